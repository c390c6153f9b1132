//! State that every program gets fresh instead of restored ([`super::FRESH_PER_PROGRAM`]), each
//! mutation beside the check of the same state: the standard streams and descriptors 0 to 2, the
//! contents of sys.argv, and the `__main__` module that a program runs as.

use super::Ctx;
use crate::fuzz::grammar::{lit, Block, Gen, B};

pub(super) fn mutate_streams(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
    let mut b = B::new("mutate.std_streams", n);
    b.import("sys").import("io").import("os");
    let variant = g.range(0, 12);
    ctx.stderr_closed |= variant == 6;
    match variant {
        0 => b.body("sys.stdout = io.StringIO()\nprint(\"swallowed $n\")\nsys.__stdout__.write(\"kept $n\\n\")"),
        1 => b.body("sys.stderr = sys.stdout\nprint(\"stderr is stdout now\", file=sys.stderr)"),
        2 => b.body("sys.stdout.reconfigure(line_buffering=True)"),
        3 => b.body("sys.stdout.reconfigure(write_through=True)"),
        4 => b.body("sys.stdout.reconfigure(encoding=\"ascii\", errors=\"backslashreplace\")\nprint(\"now ascii: é 日本\")"),
        5 => b.body("sys.stdout.flush()\nsys.stdout.close()"),
        6 => b.body("sys.stderr.close()"),
        7 => b.body("sys.stdout.flush()\nnull_$n = os.open(os.devnull, os.O_WRONLY)\nos.dup2(null_$n, 1)\nos.close(null_$n)\nprint(\"to /dev/null\")"),
        8 => b.body("sys.stdin = io.StringIO(\"fuzz input line\\n\")\nprint(\"read\", input())"),
        9 => b.body("sys.stdout = open(1, \"w\", closefd=False)\nprint(\"through a second stdout object\")"),
        10 => b.body("sys.stdout = None\nprint(\"printed to None\")"),
        11 => b.body("sys.stdout.flush()\nos.close(1)\nprint(\"lost: fd 1 is closed\")"),
        _ => b.body("sys.stdout = sys.__stderr__\nprint(\"stdout is stderr now\")"),
    };
    // Printing to a closed sys.stderr makes python dump the exception object with its address.
    let status = if variant == 6 { "sys.__stdout__" } else { "sys.__stderr__" };
    b.body(&format!(
        "print(\"streams now\", sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__, file={status})"
    ));
    b.done()
}

pub(super) fn check_streams(_: &mut Gen, n: usize) -> Block {
    B::new("check.std_streams", n)
        .import("sys")
        .import("os")
        .body(
            "
            for name_$n in (\"stdin\", \"stdout\", \"stderr\"):
                s_$n = getattr(sys, name_$n)
                print(name_$n, s_$n is getattr(sys, \"__\" + name_$n + \"__\"), type(s_$n).__name__, s_$n.name, s_$n.closed, s_$n.encoding, s_$n.errors, s_$n.line_buffering, s_$n.write_through)
            print(\"stdin data\", repr(sys.stdin.read()), [os.isatty(fd) for fd in (0, 1, 2)])
            try:
                input(\"prompt $n> \")
            except EOFError as e_$n:
                print(\"input:\", repr(e_$n))
            ",
        )
        .done()
}

pub(super) fn mutate_argv(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.argv", n);
    b.import("sys");
    match g.range(0, 3) {
        0 => b.body(&format!("sys.argv.append({})", lit(g.word()))),
        1 => b.body("sys.argv[0] = \"renamed.py\""),
        2 => b.body("sys.argv = [\"replaced\", \"--flag\"]"),
        _ => b.body("sys.argv[:] = []"),
    };
    b.body("print(\"argv now\", sys.argv[1:])");
    b.done()
}

pub(super) fn check_argv(_: &mut Gen, n: usize) -> Block {
    B::new("check.argv", n)
        .import("os")
        .import("sys")
        .body("print(\"argv\", sys.argv[1:], os.path.basename(sys.argv[0]), [os.path.basename(a) for a in sys.orig_argv])")
        .done()
}

pub(super) fn check_main_module(_: &mut Gen, n: usize) -> Block {
    B::new("check.main_module", n)
        .import("os")
        .import("sys")
        .body("print(\"main\", __name__, __package__, __spec__, type(__loader__).__name__, __doc__, __cached__, sorted(k for k in globals() if k.startswith(\"__\")), sys._getframe().f_back is None, os.path.basename(sys.executable), sys.exc_info())")
        .done()
}
