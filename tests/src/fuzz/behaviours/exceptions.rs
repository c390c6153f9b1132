//! Exceptions: a `raise` of many shapes (chained, with its context suppressed, a group with notes, a
//! custom `BaseException`, a `__str__` that fails, deep in the stack) caught and printed, and
//! exceptions that python reports on its own: in a thread, an atexit handler, a `__del__`, and
//! warnings. `raise_statement` also makes the uncaught-exception exit form of [`super::exit`].

use super::Ctx;
use crate::fuzz::grammar::{Block, Gen, B};

/// A `raise` statement of some shape, with the definitions it needs. Used by caught and uncaught
/// exceptions alike.
pub(super) fn raise_statement(g: &mut Gen, b: &mut B) {
    match g.range(0, 10) {
        0 => {
            let t = g.text_lit();
            b.body(&format!("raise ValueError({t})"));
        }
        1 => {
            b.body(
                "
                try:
                    1 / 0
                except ZeroDivisionError as e_$n:
                    raise RuntimeError(\"wrapped $n\") from e_$n
                ",
            );
        }
        2 => {
            b.body(
                "
                try:
                    {}[\"missing $n\"]
                except KeyError:
                    raise TypeError(\"raised while handling\")
                ",
            );
        }
        3 => {
            b.body(
                "
                try:
                    int(\"not a number\")
                except ValueError:
                    raise LookupError(\"context suppressed\") from None
                ",
            );
        }
        4 => {
            b.def("class FuzzBase_$n(BaseException):\n    pass");
            b.body("raise FuzzBase_$n(\"custom BaseException $n\")");
        }
        5 => {
            b.def(
                "
                class BadStr_$n(Exception):
                    def __str__(self):
                        raise RuntimeError(\"str fails\")
                ",
            );
            b.body("raise BadStr_$n()");
        }
        6 => {
            b.def(
                "
                def inner_$n(k):
                    if k == 0:
                        raise IndexError(\"deep in the stack\")
                    inner_$n(k - 1)


                def outer_$n():
                    inner_$n(3)
                ",
            );
            b.body("outer_$n()");
        }
        7 => {
            b.body(
                "
                note_$n = ValueError(\"with a note\")
                note_$n.add_note(\"note for block $n\")
                raise ExceptionGroup(\"group $n\", [note_$n, TypeError(\"second\")])
                ",
            );
        }
        8 => {
            b.body("assert 1 == 2, \"assertion message $n\"");
        }
        9 => {
            b.body("undefined_name_$n + 1");
        }
        _ => {
            b.body("raise OSError(2, \"multi\\nline message\", \"/no/such/file\")");
        }
    }
}

pub(super) fn exc_caught(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("exc.caught_and_printed", n);
    b.import("traceback").import("sys");
    let mut inner = B::new("exc.caught_and_printed", n);
    raise_statement(g, &mut inner);
    let raised = inner.done();
    b.absorb(&raised);
    let body: String = raised.body.lines().map(|l| format!("    {l}\n")).collect();
    let handler = g.pick(&[
        "traceback.print_exc()",
        "traceback.print_exc(file=sys.stdout)",
        "print(\"caught\", type(e_c$n).__name__)",
    ]);
    b.body(&format!("try:\n{body}except BaseException as e_c$n:\n    {handler}\nprint(\"recovered $n\")"));
    b.done()
}

pub(super) fn exc_thread(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("exc.in_thread", n);
    b.import("threading").import("sys").import("os");
    let raise = match g.range(0, 5) {
        0 => "raise ValueError(\"thread $n failed\")",
        1 => "sys.exit(3)",
        2 => "raise KeyboardInterrupt(\"in thread $n\")",
        3 => "raise SystemExit(\"silent in a thread\")",
        // The whole process ends here, from a thread other than the main one.
        4 => "sys.stdout.flush()\n    os._exit(6)",
        _ => "raise ZeroDivisionError(1 / 0)",
    };
    b.def_with(
        "
        def thread_fail_$n():
            print(\"thread $n runs\")
            $RAISE
        ",
        &[("$RAISE", raise)],
    );
    let name = if g.chance(0.3) { ", name=\"named-$n\"" } else { "" };
    b.body_with(
        "
        t_$n = threading.Thread(target=thread_fail_$n$NAME)
        t_$n.start()
        t_$n.join()
        print(\"thread $n joined\", t_$n.name)
        ",
        &[("$NAME", name)],
    );
    b.done()
}

pub(super) fn exc_atexit(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("exc.in_atexit", n);
    b.import("atexit").import("sys");
    let raise = g.pick(&["raise ValueError(\"atexit $n failed\")", "sys.exit(7)", "raise KeyboardInterrupt"]);
    b.def_with(
        "
        class AtexitFail_$n:
            def __call__(self):
                print(\"atexit handler $n runs\")
                $RAISE

            def __repr__(self):
                return \"<AtexitFail_$n>\"
        ",
        &[("$RAISE", raise)],
    );
    b.body("atexit.register(AtexitFail_$n())");
    b.done()
}

pub(super) fn exc_del(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("exc.in_del", n);
    let exc = g.pick(&["ValueError(\"failed in __del__ $n\")", "SystemExit(5)"]);
    b.def_with(
        "
        class DelFail_$n:
            def __call__(self):
                print(\"finalizer $n runs\")
                raise $EXC

            def __repr__(self):
                return \"<Res_$n.__del__>\"


        class Res_$n:
            __del__ = DelFail_$n()
        ",
        &[("$EXC", exc)],
    );
    b.body("res_$n = Res_$n()");
    if g.chance(0.5) {
        b.body("del res_$n");
    }
    b.done()
}

pub(super) fn exc_warning(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("exc.warning", n);
    b.import("warnings");
    match g.range(0, 3) {
        0 => b.body(&format!("warnings.warn({})", g.text_lit())),
        1 => b.body("warnings.warn(\"deprecated in block $n\", DeprecationWarning)"),
        2 => b
            .def(
                "
                def warn_from_$n():
                    warnings.warn(\"raised by a function\", RuntimeWarning, stacklevel=2)
                ",
            )
            .body("warn_from_$n()\nwarn_from_$n()"),
        _ => b.body(
            "
            for i_$n in range(3):
                warnings.warn(\"in a loop $n\", UserWarning)
            ",
        ),
    };
    b.done()
}
