//! The interpreter's own settings, each mutation beside the check of the same state: builtins, the
//! sys hooks and tracing functions, audit hooks, the recursion limit and the other interpreter
//! limits, attributes of sys, the garbage collector, warnings, and two registries that a program
//! cannot undo (codec error handlers, at-fork hooks): a warm executor finds what these leave behind
//! through the program's `__main__` globals that they keep alive.

use super::Ctx;
use crate::fuzz::grammar::{Block, Gen, B};

pub(super) fn mutate_builtins(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.builtins", n);
    b.import("builtins");
    match g.range(0, 4) {
        0 => b.body(&format!("builtins.fuzz_value_{} = {}", g.range(1, 2), g.text_lit())),
        1 => b.body("del builtins.input"),
        2 => b
            .def(
                "
                def prefixed_print_$n(*args, _print=builtins.print, **kwargs):
                    _print(\"[p$n]\", *args, **kwargs)
                ",
            )
            .body("builtins.print = prefixed_print_$n"),
        3 => b.body("builtins.len = lambda obj, _len=len: _len(obj)\nbuiltins.isinstance = lambda o, c, _i=isinstance: _i(o, c)"),
        _ => b.body("builtins.exit = None"),
    };
    b.body("print(\"builtins now\", sorted(k for k in dir(builtins) if \"fuzz\" in k), hasattr(builtins, \"input\"))");
    b.done()
}

pub(super) fn check_builtins(_: &mut Gen, n: usize) -> Block {
    B::new("check.builtins", n)
        .import("builtins")
        .body("print(\"builtins\", sorted(k for k in dir(builtins) if \"fuzz\" in k), len(dir(builtins)), type(print).__name__, hasattr(builtins, \"input\"), builtins.exit is not None)")
        .done()
}

pub(super) fn mutate_hooks(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.hooks", n);
    b.import("sys").import("threading");
    match g.range(0, 5) {
        0 => b.body("sys.excepthook = lambda t, v, tb: print(\"custom excepthook $n:\", t.__name__, v)"),
        1 => b.body("sys.unraisablehook = lambda u: print(\"custom unraisablehook $n:\", u.exc_type.__name__, u.exc_value)"),
        2 => b.body("threading.excepthook = lambda a: print(\"custom threading.excepthook $n:\", a.exc_type.__name__, a.thread.name)"),
        3 => b.body("sys.breakpointhook = lambda *a, **k: print(\"breakpoint hook $n\")\nbreakpoint()"),
        4 => b.body("sys.displayhook = lambda v: print(\"displayhook $n\", repr(v))\nexec(compile(\"6 * 7\", \"<fuzz>\", \"single\"))"),
        _ => b.body("sys.set_asyncgen_hooks(firstiter=lambda agen: None, finalizer=lambda agen: None)"),
    };
    b.body("print(\"hooks now\", sys.excepthook is sys.__excepthook__, sys.unraisablehook is sys.__unraisablehook__, threading.excepthook is threading.__excepthook__)");
    b.done()
}

pub(super) fn mutate_trace(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.trace", n);
    b.import("sys").import("threading");
    let setter = g.pick(&["sys.settrace", "sys.setprofile", "threading.settrace", "threading.setprofile"]);
    // The tracer never fails and prints nothing: it keeps its list through a default argument, so
    // it still works while __main__ is torn down.
    b.def(
        "
        events_$n = []


        def tracer_$n(frame, event, arg, _events=events_$n):
            _events.append(event)
            return None


        def traced_$n():
            return 1
        ",
    );
    b.body_with(
        "
        $SET(tracer_$n)
        traced_$n()
        print(\"tracer set\", sys.gettrace() is None, sys.getprofile() is None)
        ",
        &[("$SET", setter)],
    );
    b.done()
}

pub(super) fn check_hooks(_: &mut Gen, n: usize) -> Block {
    B::new("check.hooks", n)
        .import("sys")
        .import("threading")
        .body(
            "
            print(\"hooks\", sys.excepthook is sys.__excepthook__, sys.displayhook is sys.__displayhook__, sys.unraisablehook is sys.__unraisablehook__, sys.breakpointhook is sys.__breakpointhook__, threading.excepthook is threading.__excepthook__)
            print(\"tracing\", sys.gettrace() is None, sys.getprofile() is None, tuple(sys.get_asyncgen_hooks()) == (None, None))
            ",
        )
        .done()
}

pub(super) fn mutate_audit(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.audit_hook", n);
    b.import("sys");
    b.def(
        "
        def audit_$n(event, args):
            if event.startswith(\"fuzz.\"):
                print(\"audit hook $n saw\", event, args)
        ",
    );
    b.body("sys.addaudithook(audit_$n)\nsys.audit(\"fuzz.event\", $n)");
    b.done()
}

pub(super) fn check_audit(_: &mut Gen, n: usize) -> Block {
    B::new("check.audit_hooks", n)
        .import("sys")
        .body("sys.audit(\"fuzz.check\", $n)\nprint(\"audit event sent\")")
        .done()
}

pub(super) fn mutate_recursion(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.recursion_limit", n);
    b.import("sys");
    let limit = g.pick(&["1", "120", "400", "3000", "10000"]);
    b.body_with(
        "
        try:
            sys.setrecursionlimit($LIMIT)
        except RecursionError as e_$n:
            print(\"recursion limit refused:\", e_$n)
        print(\"recursion limit\", sys.getrecursionlimit())
        ",
        &[("$LIMIT", limit)],
    );
    b.done()
}

pub(super) fn mutate_interpreter_limits(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.interpreter_limits", n);
    b.import("sys");
    match g.range(0, 2) {
        0 => b.body("sys.setswitchinterval(0.0001)"),
        1 => b.body("sys.set_int_max_str_digits(640)\ntry:\n    print(len(str(10 ** 1000)))\nexcept ValueError as e_$n:\n    print(\"int digits:\", e_$n)"),
        _ => b.body("sys.set_int_max_str_digits(0)\nprint(len(str(10 ** 5000)))"),
    };
    b.body("print(\"limits now\", sys.getswitchinterval(), sys.get_int_max_str_digits())");
    b.done()
}

pub(super) fn check_limits(_: &mut Gen, n: usize) -> Block {
    B::new("check.interpreter_limits", n)
        .import("sys")
        .body("print(\"limits\", sys.getrecursionlimit(), sys.getswitchinterval(), sys.get_int_max_str_digits(), hasattr(sys, \"tracebacklimit\"))")
        .done()
}

pub(super) fn check_depth(_: &mut Gen, n: usize) -> Block {
    B::new("check.recursion_depth", n)
        .def(
            "
            def depth_$n(k=0):
                try:
                    return depth_$n(k + 1)
                except RecursionError:
                    return k
            ",
        )
        .body("print(\"max depth\", depth_$n())")
        .done()
}

pub(super) fn mutate_sys_attrs(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.sys_attributes", n);
    b.import("sys");
    match g.range(0, 4) {
        0 => b.body(&format!("sys.fuzz_attr_{} = $n", g.range(1, 2))),
        1 => b.body(&format!("sys.tracebacklimit = {}", g.pick(&["0", "1", "3"]))),
        2 => b.body("sys.dont_write_bytecode = not sys.dont_write_bytecode"),
        3 => b.body("sys.ps1 = \"fuzz> \""),
        _ => b.body("del sys.excepthook"),
    };
    b.body("print(\"sys now\", sorted(k for k in dir(sys) if \"fuzz\" in k), hasattr(sys, \"tracebacklimit\"), hasattr(sys, \"ps1\"))");
    b.done()
}

pub(super) fn check_sys_attrs(_: &mut Gen, n: usize) -> Block {
    B::new("check.sys_attributes", n)
        .import("sys")
        .body("print(\"sys\", sorted(k for k in dir(sys) if \"fuzz\" in k), sys.dont_write_bytecode, hasattr(sys, \"ps1\"), hasattr(sys, \"last_value\"), hasattr(sys, \"tracebacklimit\"), sys.flags)")
        .done()
}

pub(super) fn mutate_gc(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.gc", n);
    b.import("gc");
    match g.range(0, 4) {
        0 => b.body("gc.disable()"),
        1 => b.body("gc.set_threshold(5, 2, 2)"),
        2 => {
            b.body("gc.set_debug(gc.DEBUG_SAVEALL)\ngb_$n = []\ngb_$n.append(gb_$n)\ndel gb_$n\ngc.collect()")
        }
        3 => b
            .def("def gc_callback_$n(phase, info, _seen=[]):\n    _seen.append(phase)")
            .body("gc.callbacks.append(gc_callback_$n)"),
        _ => b.body("gc.set_threshold(0)"),
    };
    b.body("print(\"gc now\", gc.isenabled(), gc.get_threshold(), gc.get_debug(), len(gc.callbacks), bool(gc.garbage))");
    b.done()
}

pub(super) fn check_gc(_: &mut Gen, n: usize) -> Block {
    B::new("check.gc", n)
        .import("gc")
        .body("print(\"gc\", gc.isenabled(), gc.get_threshold(), gc.get_debug(), len(gc.callbacks), bool(gc.garbage))")
        .done()
}

pub(super) fn mutate_warnings(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.warnings", n);
    b.import("warnings");
    match g.range(0, 5) {
        0 => b.body(
            "
            warnings.simplefilter(\"error\")
            try:
                warnings.warn(\"as an error $n\")
            except UserWarning as e_$n:
                print(\"warning raised:\", e_$n)
            ",
        ),
        1 => b.body("warnings.simplefilter(\"ignore\")\nwarnings.warn(\"ignored $n\")"),
        2 => b.body("warnings.simplefilter(\"always\")\nfor i_$n in range(2):\n    warnings.warn(\"always shown\")"),
        3 => b.body("warnings.filterwarnings(\"ignore\", message=\"fuzz.*\")\nwarnings.warn(\"fuzz filtered\")\nwarnings.warn(\"not filtered $n\")"),
        4 => b.body("warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: print(\"custom showwarning $n:\", category.__name__, message)\nwarnings.warn(\"through showwarning\")"),
        _ => b.body("warnings.formatwarning = lambda message, category, filename, lineno, line=None: \"formatted $n: %s\\n\" % message\nwarnings.warn(\"through formatwarning\")"),
    };
    b.body("print(\"filters now\", len(warnings.filters), [f[0] for f in warnings.filters][:3])");
    b.done()
}

pub(super) fn check_warnings(_: &mut Gen, n: usize) -> Block {
    B::new("check.warnings", n)
        .import("warnings")
        .body("print(\"warnings\", len(warnings.filters), [f[0] for f in warnings.filters], warnings.showwarning.__name__, warnings.formatwarning.__name__)\nwarnings.warn(\"check $n warning\")")
        .done()
}

pub(super) fn mutate_codec_error_handler(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.codec_error_handler", n);
    b.import("codecs");
    b.body("codecs.register_error(\"fuzz_handler\", lambda e: (\"?\", e.end))\nprint(\"decoded\", b\"a\\xffb\".decode(\"ascii\", \"fuzz_handler\"))");
    b.done()
}

pub(super) fn check_codec_error_handler(_: &mut Gen, n: usize) -> Block {
    B::new("check.codec_error_handler", n)
        .body(
            "
            try:
                print(\"error handler\", b\"\\xff\".decode(\"ascii\", \"fuzz_handler\"))
            except LookupError as e_$n:
                print(\"error handler:\", e_$n)
            ",
        )
        .done()
}

pub(super) fn mutate_at_fork(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    // Only the parent's hook writes: a Pool's children run theirs while the parent forks the next
    // one, or not at all when the pool is terminated first. The child's hook still runs (and, left
    // behind in a warm executor, fails in the next program's children once its globals are gone).
    let mut b = B::new("mutate.at_fork", n);
    b.import("os");
    b.body(
        "
        os.register_at_fork(before=lambda: os.write(1, b\"before fork hook $n\\n\"), after_in_child=lambda: os.getpid())
        print(\"fork hooks registered\", flush=True)
        ",
    );
    b.done()
}

/// A bare fork: at-fork hooks a previous program registered would run (and write) here.
pub(super) fn check_at_fork(_: &mut Gen, n: usize) -> Block {
    B::new("check.at_fork", n)
        .import("os")
        .body(
            "
            pid_$n = os.fork()
            if pid_$n == 0:
                os._exit(0)
            os.waitpid(pid_$n, 0)
            print(\"forked and reaped $n\")
            ",
        )
        .done()
}
