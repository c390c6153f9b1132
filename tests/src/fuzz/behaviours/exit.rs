//! How a program ends: atexit handlers (plain, exiting hard, registering more during exit,
//! threading's exit hooks, weakref finalizers), `__del__` finalizers and collected cycles, sleeps, and
//! the exit forms that close a program (`TERMINALS`: `SystemExit` in every shape, `os._exit`, signals,
//! abort, segfault, uncaught exceptions, a syntax error). An exit form that an earlier block would make
//! nondeterministic (faulthandler enabled, sys.stderr closed) falls back to `sys.exit`.

use super::exceptions::raise_statement;
use super::Ctx;
use crate::fuzz::grammar::{Block, Gen, B};

pub(super) fn atexit_print(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("atexit.handler", n);
    b.import("atexit").import("sys");
    // A callable with a repr: when printing fails (a closed stdout), python names the handler.
    b.def(
        "
        class Bye_$n:
            def __call__(self, what, who=\"$n\"):
                print(\"atexit\", what, who)

            def __repr__(self):
                return \"<Bye_$n>\"


        bye_$n = Bye_$n()
        ",
    );
    b.body(&format!("atexit.register(bye_$n, {})", g.text_lit()));
    if g.chance(0.4) {
        b.body("atexit.register(bye_$n, \"second\", who=\"keyword\")");
    }
    if g.chance(0.3) {
        b.body("atexit.register(print, \"stderr handler $n\", file=sys.stderr)");
    }
    if g.chance(0.15) {
        b.body("atexit.unregister(bye_$n)");
    }
    b.done()
}

pub(super) fn atexit_special(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
    let mut b = B::new("atexit.special", n);
    b.import("atexit");
    match g.range(0, 3) {
        3 => {
            // What concurrent.futures uses: called by threading._shutdown, before atexit.
            b.import("threading");
            b.body("threading._register_atexit(print, \"threading exit hook $n\")");
            ctx.threading_hook = true;
        }
        0 => {
            b.import("os").import("sys");
            b.def(
                "
                def hard_exit_$n():
                    print(\"hard exit from atexit $n\")
                    os._exit(4)
                ",
            );
            if g.chance(0.5) {
                b.body("atexit.register(sys.stdout.flush)");
            }
            b.body("atexit.register(hard_exit_$n)");
        }
        1 => {
            b.def(
                "
                def inner_$n():
                    print(\"registered during exit $n\")


                def outer_$n():
                    print(\"outer handler $n\")
                    atexit.register(inner_$n)
                ",
            );
            b.body("atexit.register(outer_$n)");
        }
        _ => {
            b.import("weakref");
            b.def(
                "
                class Keep_$n:
                    def __repr__(self):
                        return \"<Keep_$n>\"
                ",
            );
            b.body("keep_$n = Keep_$n()\nweakref.finalize(keep_$n, print, \"weakref finalizer $n\")");
        }
    }
    b.done()
}

pub(super) fn del_object(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("del.finalizer", n);
    b.def(
        "
        class Noisy_$n:
            def __del__(self):
                print(\"del $n\")

            def __repr__(self):
                return \"<Noisy_$n>\"
        ",
    );
    match g.range(0, 3) {
        0 => b.body("obj_$n = Noisy_$n()\ndel obj_$n"),
        1 => b.body("obj_$n = Noisy_$n()\nobj_$n = None"),
        2 => b.body("obj_$n = Noisy_$n()\nprint(\"kept\", obj_$n)"),
        _ => b.import("atexit").body("atexit.register(print, \"atexit holds\", Noisy_$n())"),
    };
    b.done()
}

pub(super) fn del_cycle(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("del.cycle", n);
    b.import("gc");
    b.def(
        "
        class Cycle_$n:
            def __del__(self):
                print(\"cycle $n collected\")
        ",
    );
    b.body("c_$n = Cycle_$n()\nc_$n.me = c_$n\ndel c_$n\ngc.collect()");
    b.done()
}

pub(super) fn sleep(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("sleep", n);
    b.import("time");
    b.body(&format!("time.sleep({})", g.pick(&["0", "0.001", "0.005", "0.02"])));
    b.done()
}

// ---------------------------------------------------------------------------------------------------
// Exit forms
// ---------------------------------------------------------------------------------------------------

pub(super) fn exit_sys_exit(g: &mut Gen, n: usize, _: &Ctx) -> Block {
    let mut b = B::new("exit.system_exit", n);
    b.import("sys").terminal();
    const ARGS: &[&str] = &[
        "",
        "None",
        "0",
        "1",
        "3",
        "42",
        "127",
        "128",
        "255",
        "256",
        "257",
        "-1",
        "-256",
        "2 ** 31",
        "2 ** 63",
        "2 ** 70",
        "-(2 ** 70)",
        "True",
        "False",
        "\"message to stderr\"",
        "\"\"",
        "(1, 2)",
        "[3]",
        "3.5",
        "b\"bytes\"",
        "ExitObj_$n()",
    ];
    let arg = g.pick(ARGS);
    if arg.contains("ExitObj") {
        b.def(
            "
            class ExitObj_$n:
                def __str__(self):
                    return \"exit object $n\"
            ",
        );
    }
    let arg = if arg == "\"message to stderr\"" { g.text_lit() } else { arg.to_string() };
    match g.range(0, 6) {
        0 | 1 => b.body(&format!("sys.exit({arg})")),
        2 => b.body(&format!("raise SystemExit({arg})")),
        3 => b.body(&format!("{}({arg})", g.pick(&["exit", "quit"]))),
        4 => b.def("class ExitSub_$n(SystemExit):\n    pass").body(&format!("raise ExitSub_$n({arg})")),
        5 => b.body(&format!("raise SystemExit({arg}) from ValueError(\"cause\")")),
        _ => b.body("raise SystemExit(1, 2)"),
    };
    b.done()
}

pub(super) fn exit_os_exit(g: &mut Gen, n: usize, _: &Ctx) -> Block {
    let mut b = B::new("exit.os_exit", n);
    b.import("os").terminal();
    if g.chance(0.5) {
        b.body("print(\"buffered before os._exit\")");
    }
    b.body(&format!("os._exit({})", g.pick(&["0", "1", "3", "42", "255"])));
    b.done()
}

pub(super) fn exit_signal(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
    let mut b = B::new("exit.signal", n);
    b.import("os").import("signal").terminal();
    let mut signals =
        vec!["SIGTERM", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGHUP", "SIGINT", "SIGALRM", "SIGPIPE", "SIGCHLD"];
    if !ctx.faulthandler {
        signals.extend(["SIGSEGV", "SIGABRT", "SIGQUIT", "SIGBUS", "SIGFPE"]);
    }
    if g.chance(0.15) {
        b.import("sys");
        b.body("signal.signal(signal.SIGUSR2, lambda signum, frame: sys.exit(9))\nsignal.raise_signal(signal.SIGUSR2)\nprint(\"not reached\")");
        return b.done();
    }
    let sig = g.pick(&signals);
    let flush = if g.chance(0.5) { ", flush=True" } else { "" };
    b.body(&format!("print(\"about to raise {sig}\"{flush})"));
    // SIGKILL cannot be handled, so it may go to any thread; every other signal goes to the calling
    // thread, so that where a Python handler runs does not depend on other threads.
    if sig == "SIGKILL" {
        b.body("os.kill(os.getpid(), signal.SIGKILL)");
    } else {
        b.body(&format!("signal.raise_signal(signal.{sig})"));
    }
    b.body("print(\"still running after the signal\")");
    b.done()
}

pub(super) fn exit_abort(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
    if ctx.faulthandler {
        return exit_sys_exit(g, n, ctx);
    }
    let mut b = B::new("exit.abort", n);
    b.import("os").terminal();
    b.body("print(\"before abort\", flush=True)\nprint(\"lost in the buffer\")\nos.abort()");
    b.done()
}

pub(super) fn exit_segfault(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
    if ctx.faulthandler {
        return exit_sys_exit(g, n, ctx);
    }
    let mut b = B::new("exit.segfault", n);
    b.import("ctypes").terminal();
    if g.chance(0.5) {
        b.body("print(\"before segfault\", flush=True)");
    }
    b.body("print(\"buffered, lost\")\nctypes.string_at(0)");
    b.done()
}

pub(super) fn exit_exception(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
    if ctx.stderr_closed {
        return exit_sys_exit(g, n, ctx);
    }
    let mut b = B::new("exit.uncaught_exception", n);
    b.terminal();
    raise_statement(g, &mut b);
    b.done()
}

pub(super) fn exit_keyboard_interrupt(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
    if ctx.stderr_closed {
        return exit_sys_exit(g, n, ctx);
    }
    let mut b = B::new("exit.keyboard_interrupt", n);
    b.terminal();
    b.body(g.pick(&["raise KeyboardInterrupt", "raise KeyboardInterrupt(\"interrupted $n\")"]));
    b.done()
}

pub(super) fn exit_recursion(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
    if ctx.stderr_closed {
        return exit_sys_exit(g, n, ctx);
    }
    let mut b = B::new("exit.recursion_error", n);
    b.terminal();
    b.def("def rec_$n(k):\n    return rec_$n(k + 1)");
    b.body("rec_$n(0)");
    b.done()
}

pub(super) fn exit_in_finally_or_with(g: &mut Gen, n: usize, _: &Ctx) -> Block {
    let mut b = B::new("exit.through_finally", n);
    b.import("sys").terminal();
    let code = g.pick(&["0", "3", "\"finally message\""]);
    match g.range(0, 2) {
        0 => b.body_with(
            "
            try:
                sys.exit($CODE)
            finally:
                print(\"finally runs $n\")
            ",
            &[("$CODE", code)],
        ),
        1 => b
            .def(
                "
                class Ctx_$n:
                    def __enter__(self):
                        return self

                    def __exit__(self, *exc):
                        print(\"__exit__ sees\", exc[0].__name__ if exc[0] else None)
                        return False
                ",
            )
            .body_with("with Ctx_$n():\n    sys.exit($CODE)", &[("$CODE", code)]),
        _ => b
            .def(
                "
                class Swallow_$n:
                    def __enter__(self):
                        return self

                    def __exit__(self, *exc):
                        print(\"swallowed\", exc[0].__name__ if exc[0] else None)
                        return True
                ",
            )
            .body_with(
                "with Swallow_$n():\n    sys.exit($CODE)\nprint(\"went on after SystemExit was swallowed\")",
                &[("$CODE", code)],
            ),
    };
    b.done()
}

/// A syntax error makes the whole file fail to compile: nothing else runs.
pub(super) fn exit_syntax_error(g: &mut Gen, n: usize, _: &Ctx) -> Block {
    let mut b = B::new("exit.syntax_error", n);
    b.terminal();
    b.body(g.pick(&["x_$n = (1,", "def broken_$n(:\n    pass", "print(\"unterminated)", "return $n"]));
    b.done()
}
