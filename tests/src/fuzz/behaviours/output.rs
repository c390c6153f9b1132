//! Output: prints to stdout and stderr of every shape (text in many scripts, separators and ends,
//! no trailing newline, flushed or not, large), bytes that are not UTF-8 written under the text
//! layer, writes to descriptors 1 and 2 under Python's buffers, C stdio, lone surrogates and the
//! reprs of built-in objects. None of them changes process state: they test where the bytes land,
//! and in what order.

use super::Ctx;
use crate::fuzz::grammar::{blit, lit, Block, Gen, B};

pub(super) fn out_print(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.print", n);
    for _ in 0..g.range(1, 3) {
        let t = g.text_lit();
        let line = match g.range(0, 5) {
            0 | 1 => format!("print({t})"),
            2 => {
                let sep = lit(g.pick(&[" ", "", " | ", "\n", "\t"]));
                format!("print({t}, {}, 42, sep={sep})", g.text_lit())
            }
            3 => {
                let end = lit(g.pick(&["", " ", "\n\n", "|", "\r\n"]));
                format!("print({t}, end={end})")
            }
            4 => format!("print({t}, flush=True)"),
            _ => {
                b.import("sys");
                format!("sys.stdout.write({t} + \"\\n\")")
            }
        };
        b.body(&line);
    }
    b.done()
}

pub(super) fn out_stderr(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.stderr", n);
    b.import("sys");
    for _ in 0..g.range(1, 3) {
        let t = g.text_lit();
        let line = match g.range(0, 3) {
            0 => format!("print({t}, file=sys.stderr)"),
            1 => format!("print({t}, file=sys.stderr, flush=True)"),
            2 => format!("sys.stderr.write({t} + \"\\n\")"),
            _ => format!("print({t}, file=sys.__stderr__, end=\"\")"),
        };
        b.body(&line);
    }
    b.done()
}

pub(super) fn out_no_newline(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.no_trailing_newline", n);
    b.import("sys");
    let t = g.text_lit();
    let line = match g.range(0, 3) {
        0 => format!("print({t}, end=\"\")"),
        1 => format!("sys.stdout.write({t})"),
        2 => format!("sys.stderr.write({t})"),
        _ => format!("print(\"partial\", {t}, end=\"\", flush=True)"),
    };
    b.body(&line);
    b.done()
}

/// Bytes that are not UTF-8 (and some that are), written under the text layer.
pub(super) fn out_bytes(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    const BYTES: &[&[u8]] = &[
        b"bad \xff byte\n",
        b"cut \xe2\x82\n",
        b"\xc3( invalid\n",
        b"\xed\xa0\x80 encoded surrogate\n",
        b"euro \xe2\x82\xac ok\n",
        b"\x80\x81\x82",
        b"truncated emoji \xf0\x9f\x8e",
        b"latin-1 caf\xe9\n",
        b"\r\n\r",
    ];
    let mut b = B::new("out.invalid_utf8", n);
    b.import("sys");
    let stream = g.pick(&["stdout", "stderr"]);
    if g.chance(0.5) {
        b.body(&format!("sys.{stream}.flush()"));
    }
    for _ in 0..g.range(1, 2) {
        b.body(&format!("sys.{stream}.buffer.write({})", blit(g.pick(BYTES))));
    }
    if g.chance(0.5) {
        b.body(&format!("sys.{stream}.buffer.flush()"));
    }
    b.done()
}

pub(super) fn out_large(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.large", n);
    let size = g.pick(&[4095, 4096, 4097, 8192, 65536, 65537, 100_000, 250_000]).to_string();
    let lines = g.pick(&[100, 1000, 3000]).to_string();
    match g.range(0, 4) {
        0 => b.body_with("print(\"x\" * $SIZE)", &[("$SIZE", &size)]),
        1 => b.import("sys").body_with("sys.stdout.write(\"y\" * $SIZE)", &[("$SIZE", &size)]),
        2 => b.body_with(
            "
            for i_$n in range($LINES):
                print(\"line\", i_$n, \"of block $n\")
            ",
            &[("$LINES", &lines)],
        ),
        3 => b.import("sys").body_with("print(\"z\" * $SIZE, file=sys.stderr)", &[("$SIZE", &size)]),
        _ => b.import("os").body_with("os.write(1, b\"w\" * $SIZE)", &[("$SIZE", &size)]),
    };
    b.done()
}

/// Writes to descriptors 1 and 2 under Python's buffers: where they land among the prints shows the
/// buffering python chose.
pub(super) fn out_fd(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.fd_write", n);
    b.import("os");
    for _ in 0..g.range(1, 3) {
        let fd = g.pick(&["1", "2"]);
        let end = if g.chance(0.8) { " + \"\\n\"" } else { "" };
        b.body(&format!("os.write({fd}, ({}{end}).encode())", g.text_lit()));
    }
    b.done()
}

pub(super) fn out_flush(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.flush", n);
    b.import("sys");
    match g.range(0, 2) {
        0 => b.body("sys.stdout.flush()"),
        1 => b.body("sys.stderr.flush()"),
        _ => b.body("sys.stdout.flush()\nsys.stderr.flush()"),
    };
    b.done()
}

pub(super) fn out_carriage_return(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.carriage_return", n);
    b.body("print(\"progress 1\\rprogress 2\\r\\ndone $n\\r\")");
    b.done()
}

/// C stdio has its own buffer, flushed by the C library's exit().
pub(super) fn out_c_stdio(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.c_stdio", n);
    b.import("ctypes");
    b.body("libc_$n = ctypes.CDLL(None)");
    b.body("libc_$n.puts(b\"from C puts $n\")");
    if g.chance(0.5) {
        b.body("libc_$n.printf(b\"printf %d\\n\", $n)");
    }
    if g.chance(0.4) {
        b.body("libc_$n.fflush(None)");
    }
    b.done()
}

pub(super) fn out_surrogate(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.surrogate", n);
    b.import("sys");
    match g.range(0, 2) {
        0 => b.body(
            "
            try:
                print(\"lone \\udcff surrogate\")
            except UnicodeEncodeError as e_$n:
                print(\"encode error:\", e_$n.reason, file=sys.stderr)
            ",
        ),
        1 => b.body("print(\"stderr escapes \\udcff\", file=sys.stderr)"),
        _ => b.body("print(repr(\"\\udcff\".encode(\"utf-8\", \"surrogateescape\")))"),
    };
    b.done()
}

pub(super) fn out_objects(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.objects", n);
    b.body(
        r#"
        print(1, 2.5, -0.0, 1e300 * 10, None, True, [1, "a"], ("t",), b"by\xfftes", 3 + 4j, range(3), sep=" | ")
        print({"k": [1, 2]}, frozenset([3, 1, 2]), slice(1, 2), Ellipsis, NotImplemented, 10 ** 30, 1 / 3)
        "#,
    );
    b.done()
}
