//! The `semantics` template's behaviours: output, exit forms, exceptions, threads, atexit, `__del__`,
//! imports, child processes, mutations of process state and checks of it. Each function makes one
//! [`Block`]; `blocks` composes a program from them.
//!
//! Every behaviour must be deterministic under python: no pids, times, addresses (every object whose
//! repr might be printed defines `__repr__`), str-hash orders (sets of strings are sorted), thread
//! interleavings (threads are joined before main prints again, or print only after main ended) or
//! asynchronous signals (signals go to the calling thread through `signal.raise_signal`). The oracle
//! runs python twice anyway and skips a program that disagrees with itself.
//!
//! Checks print process state as a fresh python sees it; in warm mode the previous program of the
//! same executor ran just before, so a check reveals whatever that program's mutations left behind.
//! They never look at what [`AVOIDED_DIFFERENCES`] lists.

use super::grammar::{blit, lit, Block, Gen, B};

/// The documented differences (`docs/differences.md`, by entry title) that the generator stays away
/// from, and how: a program that ran into one would report a difference that is not a bug.
pub const AVOIDED_DIFFERENCES: &[(&str, &str)] = &[
    (
        "gc.freeze()",
        "never calls gc.get_freeze_count(), gc.get_objects() or gc.freeze(), and never counts what a collection \
         found (len(gc.garbage) under DEBUG_SAVEALL includes python's own start-up garbage)",
    ),
    (
        "Modules already imported",
        "never asks whether a module is in sys.modules (except the fuzz_* names its programs insert), never \
         deletes one it did not import itself, never makes the standard library unimportable (sys.path \
         keeps its entries), and preloads only standard-library modules without visible import-time state",
    ),
    (
        "Installed packages stay imported",
        "uses numpy only for what it computes: never asks whether it was imported before, never relies on its \
         import-time side effects",
    ),
    (
        "Hash randomisation",
        "never prints hash() or anything ordered by str hashes (sets of strings are sorted first)",
    ),
    (
        "Process identity",
        "never reads /proc/self/cmdline, os.getpid() values, os.getppid(), getrusage() or descriptors >= 512",
    ),
    ("atexit handlers of preloaded modules and of start-up", "never relies on exit handlers that a preload registered"),
    (
        "Interpreter teardown",
        "finalizers live only on objects held by __main__'s globals, locals or atexit, never by other modules",
    ),
    ("Codec search functions", "never calls codecs.register()"),
    ("Third-party module globals", "never sets attributes on numpy or torch"),
];

/// What earlier blocks of the program did that constrains later ones.
#[derive(Default)]
struct Ctx {
    /// faulthandler is enabled: a crash would print thread addresses, so no crash exit forms.
    faulthandler: bool,
    /// A non-daemon thread that prints after main ends exists: a second one would race with it.
    late_thread: bool,
    /// sys.stderr is closed: python reports an uncaught exception by dumping the exception object
    /// with its address ("lost sys.stderr"), so no exit form raises one.
    stderr_closed: bool,
    /// A threading exit hook prints: a Pool's workers run it too when they exit on their own, not
    /// when the pool terminates them first, which is a race (python gives 0, 1 or 2 lines), so no
    /// Pool after it.
    threading_hook: bool,
}

type Statement = fn(&mut Gen, usize, &mut Ctx) -> Block;
type Check = fn(&mut Gen, usize) -> Block;
type Terminal = fn(&mut Gen, usize, &Ctx) -> Block;

/// Statements and their weights.
const STATEMENTS: &[(u32, Statement)] = &[
    // Output.
    (12, out_print),
    (5, out_stderr),
    (3, out_no_newline),
    (3, out_bytes),
    (2, out_large),
    (4, out_fd),
    (2, out_flush),
    (1, out_carriage_return),
    (1, out_c_stdio),
    (1, out_surrogate),
    (1, out_objects),
    // Exceptions.
    (3, exc_caught),
    (2, exc_thread),
    (2, exc_atexit),
    (2, exc_del),
    (2, exc_warning),
    // Threads.
    (2, thread_joined),
    (1, thread_parallel),
    (1, thread_daemon),
    (1, thread_late),
    (1, thread_timer),
    (1, thread_pool),
    // atexit and finalizers.
    (3, atexit_print),
    (1, atexit_special),
    (2, del_object),
    (1, del_cycle),
    (1, sleep),
    // Imports.
    (4, import_stdlib),
    (1, import_special),
    // Child processes.
    (1, mp_fork),
    (1, mp_os_fork),
    (1, mp_subprocess),
    (1, mp_spawn_rare),
    // Mutations of process state, each followed by a print of that state.
    (2, mutate_cwd),
    (2, mutate_environ),
    (1, mutate_umask),
    (1, mutate_argv),
    (2, mutate_sys_path),
    (2, mutate_sys_modules),
    (1, mutate_meta_path),
    (2, mutate_builtins),
    (2, mutate_hooks),
    (1, mutate_trace),
    (1, mutate_audit),
    (2, mutate_signals),
    (1, mutate_recursion),
    (1, mutate_interpreter_limits),
    (1, mutate_gc),
    (2, mutate_warnings),
    (2, mutate_streams),
    (1, mutate_sys_attrs),
    (1, mutate_threading),
    (1, mutate_stdlib_objects),
    (1, mutate_codec_error_handler),
    (1, mutate_at_fork),
    (1, mutate_process),
    (1, mutate_locale_tz),
    (1, mutate_c_module_state),
    (1, mutate_fds),
    (1, mutate_random),
    // Checks anywhere in the program (they also open most programs, see `blocks`).
    (4, check_statement),
];

/// Checks of process state and their weights.
const CHECKS: &[(u32, Check)] = &[
    (3, check_cwd),
    (3, check_environ),
    (1, check_environ_keys),
    (1, check_child_environ),
    (2, check_umask),
    (2, check_argv),
    (2, check_sys_path),
    (2, check_modules),
    (2, check_builtins),
    (2, check_hooks),
    (1, check_audit),
    (2, check_signals),
    (2, check_limits),
    (1, check_depth),
    (2, check_gc),
    (2, check_warnings),
    (2, check_streams),
    (2, check_fds),
    (2, check_sys_attrs),
    (2, check_threads),
    (1, check_stdlib_objects),
    (1, check_codec_error_handler),
    (1, check_process),
    (1, check_at_fork),
    (1, check_locale_tz),
    (1, check_c_module_state),
    (2, check_main_module),
    (1, check_meta_path),
];

/// Exit forms and their weights.
const TERMINALS: &[(u32, Terminal)] = &[
    (30, exit_sys_exit),
    (24, exit_exception),
    (8, exit_os_exit),
    (12, exit_signal),
    (3, exit_abort),
    (4, exit_segfault),
    (5, exit_keyboard_interrupt),
    (3, exit_recursion),
    (6, exit_in_finally_or_with),
    (1, exit_syntax_error),
];

/// A program of the `semantics` template: often a few checks first (they reveal what an earlier
/// program of the same warm executor left behind), one to six statements, and often an exit form.
pub(super) fn blocks(g: &mut Gen) -> Vec<Block> {
    let mut ctx = Ctx::default();
    let mut out = Vec::new();
    if g.chance(0.6) {
        for _ in 0..g.range(1, 4) {
            let n = out.len();
            out.push(check(g, n));
        }
    }
    let weights: Vec<u32> = STATEMENTS.iter().map(|(w, _)| *w).collect();
    for _ in 0..g.range(1, 6) {
        let n = out.len();
        let make = STATEMENTS[g.weighted(&weights)].1;
        out.push(make(g, n, &mut ctx));
    }
    if g.chance(0.6) {
        let weights: Vec<u32> = TERMINALS.iter().map(|(w, _)| *w).collect();
        let n = out.len();
        let make = TERMINALS[g.weighted(&weights)].1;
        out.push(make(g, n, &ctx));
    }
    out
}

fn check(g: &mut Gen, n: usize) -> Block {
    let weights: Vec<u32> = CHECKS.iter().map(|(w, _)| *w).collect();
    let make = CHECKS[g.weighted(&weights)].1;
    make(g, n)
}

fn check_statement(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    check(g, n)
}

// ---------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------

fn out_print(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn out_stderr(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn out_no_newline(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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
fn out_bytes(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn out_large(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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
fn out_fd(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.fd_write", n);
    b.import("os");
    for _ in 0..g.range(1, 3) {
        let fd = g.pick(&["1", "2"]);
        let end = if g.chance(0.8) { " + \"\\n\"" } else { "" };
        b.body(&format!("os.write({fd}, ({}{end}).encode())", g.text_lit()));
    }
    b.done()
}

fn out_flush(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.flush", n);
    b.import("sys");
    match g.range(0, 2) {
        0 => b.body("sys.stdout.flush()"),
        1 => b.body("sys.stderr.flush()"),
        _ => b.body("sys.stdout.flush()\nsys.stderr.flush()"),
    };
    b.done()
}

fn out_carriage_return(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.carriage_return", n);
    b.body("print(\"progress 1\\rprogress 2\\r\\ndone $n\\r\")");
    b.done()
}

/// C stdio has its own buffer, flushed by the C library's exit().
fn out_c_stdio(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn out_surrogate(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn out_objects(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("out.objects", n);
    b.body(
        r#"
        print(1, 2.5, -0.0, 1e300 * 10, None, True, [1, "a"], ("t",), b"by\xfftes", 3 + 4j, range(3), sep=" | ")
        print({"k": [1, 2]}, frozenset([3, 1, 2]), slice(1, 2), Ellipsis, NotImplemented, 10 ** 30, 1 / 3)
        "#,
    );
    b.done()
}

// ---------------------------------------------------------------------------------------------------
// Exceptions
// ---------------------------------------------------------------------------------------------------

/// A `raise` statement of some shape, with the definitions it needs. Used by caught and uncaught
/// exceptions alike.
fn raise_statement(g: &mut Gen, b: &mut B) {
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

fn exc_caught(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn exc_thread(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn exc_atexit(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn exc_del(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn exc_warning(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

// ---------------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------------

fn thread_joined(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("thread.joined", n);
    b.import("threading");
    b.def(
        "
        def worker_$n(k):
            print(\"worker $n step\", k, threading.current_thread().name)
        ",
    );
    let count = g.range(1, 3).to_string();
    b.body_with(
        "
        for k_$n in range($COUNT):
            th_$n = threading.Thread(target=worker_$n, args=(k_$n,))
            th_$n.start()
            th_$n.join()
        ",
        &[("$COUNT", &count)],
    );
    b.done()
}

fn thread_parallel(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("thread.parallel", n);
    b.import("threading");
    let count = g.range(2, 4).to_string();
    b.def(
        "
        def compute_$n(results, i):
            results[i] = sum(range(i * 1000))
        ",
    );
    b.body_with(
        "
        results_$n = [None] * $COUNT
        threads_$n = [threading.Thread(target=compute_$n, args=(results_$n, i)) for i in range($COUNT)]
        for th_$n in threads_$n:
            th_$n.start()
        for th_$n in threads_$n:
            th_$n.join()
        print(\"results $n\", results_$n, [th.name for th in threads_$n])
        ",
        &[("$COUNT", &count)],
    );
    b.done()
}

/// A daemon thread blocked forever: it must not keep the program alive.
fn thread_daemon(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("thread.daemon", n);
    b.import("threading");
    b.def(
        "
        def daemon_$n(started):
            print(\"daemon $n started\", flush=True)
            started.set()
            threading.Event().wait()
        ",
    );
    b.body(
        "
        started_$n = threading.Event()
        dt_$n = threading.Thread(target=daemon_$n, args=(started_$n,), daemon=True)
        dt_$n.start()
        started_$n.wait()
        print(\"daemon $n alive\", dt_$n.is_alive(), dt_$n.daemon)
        ",
    );
    b.done()
}

/// A non-daemon thread that prints only once the main thread has finished: python waits for it at
/// exit, before the atexit handlers.
fn thread_late(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
    if ctx.late_thread {
        return thread_joined(g, n, ctx);
    }
    ctx.late_thread = true;
    let mut b = B::new("thread.outlives_main", n);
    b.import("threading").import("time");
    let tail = g.pick(&["", "raise ValueError(\"late thread $n failed\")"]);
    b.def_with(
        "
        def late_$n():
            while threading.main_thread().is_alive():
                time.sleep(0.002)
            print(\"late thread $n finished\")
            $TAIL
        ",
        &[("$TAIL", tail)],
    );
    b.body("threading.Thread(target=late_$n).start()");
    b.done()
}

fn thread_timer(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("thread.timer", n);
    b.import("threading");
    b.def("def ring_$n():\n    print(\"timer $n fired\")");
    b.body("tm_$n = threading.Timer(0.005, ring_$n)\ntm_$n.start()\ntm_$n.join()");
    b.done()
}

fn thread_pool(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("thread.pool", n);
    b.import("concurrent.futures");
    b.body(
        "
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool_$n:
            print(\"pool $n\", list(pool_$n.map(abs, [-1, -2, 3])))
        ",
    );
    b.done()
}

// ---------------------------------------------------------------------------------------------------
// atexit, finalizers, sleeps
// ---------------------------------------------------------------------------------------------------

fn atexit_print(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn atexit_special(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
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

fn del_object(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn del_cycle(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn sleep(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("sleep", n);
    b.import("time");
    b.body(&format!("time.sleep({})", g.pick(&["0", "0.001", "0.005", "0.02"])));
    b.done()
}

// ---------------------------------------------------------------------------------------------------
// Imports
// ---------------------------------------------------------------------------------------------------

/// Standard-library modules with a deterministic use of each.
const STDLIB: &[(&str, &str)] = &[
    (
        "json",
        r#"print(json.dumps({"b": [1, 2.5, None], "a": "\u00e9"}, sort_keys=True), json.loads("[1, {\"x\": 2}]"))"#,
    ),
    ("decimal", "print(decimal.Decimal(1) / decimal.Decimal(7))"),
    ("fractions", "print(fractions.Fraction(3, 9) + fractions.Fraction(1, 3))"),
    ("textwrap", r#"print(textwrap.fill("the quick brown fox jumps over the lazy dog", 12))"#),
    ("statistics", "print(statistics.mean([1, 2, 3, 4]), statistics.median([3, 1, 2]))"),
    ("hashlib", r#"print(hashlib.sha256(b"fuzz").hexdigest())"#),
    ("zlib", r#"print(zlib.crc32(b"fuzz"), len(zlib.compress(b"a" * 1000)))"#),
    ("base64", r#"print(base64.b64encode(b"\xff\x00fuzz"))"#),
    ("struct", r#"print(struct.pack("<iH", 7, 3))"#),
    ("uuid", r#"print(uuid.uuid5(uuid.NAMESPACE_DNS, "runner.fuzz"))"#),
    ("difflib", r#"print(list(difflib.unified_diff(["a\n", "b\n"], ["a\n", "c\n"])))"#),
    ("pprint", r#"pprint.pprint({"k": list(range(30))}, width=40)"#),
    ("re", r#"print(re.sub(r"(\w+) (\w+)", r"\2 \1", "hello world"), re.findall(r"\d+", "a1b22c333"))"#),
    ("datetime", "print(datetime.date(2024, 2, 29).isoformat(), datetime.timedelta(days=1, seconds=5))"),
    ("calendar", "print(calendar.isleap(2000), calendar.monthrange(2024, 2))"),
    ("ipaddress", r#"print(ipaddress.ip_network("10.0.0.0/30").num_addresses)"#),
    ("urllib.parse", r#"print(urllib.parse.quote("a b/é"), urllib.parse.urlparse("http://x/y?z=1").query)"#),
    ("html", r#"print(html.escape("<a href='x'>&</a>"))"#),
    ("heapq", "print(heapq.nsmallest(3, [5, 1, 4, 2, 3]))"),
    ("itertools", "print(list(itertools.permutations([1, 2, 3], 2)))"),
    ("functools", "print(functools.reduce(lambda a, b: a * b, range(1, 10)))"),
    ("copy", r#"print(copy.deepcopy([[1], {"a": (2,)}]))"#),
    (
        "collections",
        r#"print(collections.Counter("mississippi").most_common(2), collections.OrderedDict(a=1))"#,
    ),
    ("contextlib", r#"print("suppressed", contextlib.suppress(ZeroDivisionError).__class__.__name__)"#),
    ("sqlite3", r#"print(sqlite3.connect(":memory:").execute("select 1 + 1").fetchone())"#),
    ("unicodedata", r#"print(unicodedata.name("é"), unicodedata.normalize("NFD", "é").encode())"#),
    ("ast", r#"print(ast.dump(ast.parse("x + 1", mode="eval")))"#),
    ("pickle", r#"print(pickle.loads(pickle.dumps({"k": [1, 2]})))"#),
    ("math", "print(math.factorial(20), math.isqrt(10 ** 20), math.pi)"),
    ("random", "print(random.Random(1234).random(), random.Random(5).randint(1, 100))"),
    ("shlex", r#"print(shlex.split("a 'b c' d"))"#),
    ("platform", "print(platform.python_implementation())"),
    ("sysconfig", "print(sysconfig.get_python_version())"),
    ("locale", "print(locale.getpreferredencoding(False))"),
    ("codecs", r#"print(codecs.encode("fuzz", "rot13"))"#),
    ("io", r#"print(io.StringIO("line 1\nline 2").readlines())"#),
    ("logging", r#"logging.basicConfig(); logging.getLogger("fuzz").warning("logged %d", 3)"#),
    ("argparse", r#"print(argparse.ArgumentParser(prog="fuzz").parse_known_args([]))"#),
    ("inspect", "print(inspect.signature(lambda a, b=2, *c, d, **e: None))"),
    ("dis", r#"dis.dis("x + 1")"#),
    ("email.utils", r#"print(email.utils.parseaddr("Fuzz <f@example.com>"))"#),
    ("string", "print(string.ascii_letters[:10], string.capwords(\"hello big world\"))"),
    ("enum", "print(list(enum.Enum(\"Color\", \"RED GREEN\")))"),
    ("typing", "print(typing.Optional[int], typing.get_args(typing.Union[int, str]))"),
    ("operator", "print(operator.itemgetter(1)([4, 5]), operator.add(2, 3))"),
    ("array", r#"print(array.array("i", [1, 2, 3]).tobytes())"#),
    ("bisect", "print(bisect.bisect([1, 3, 5], 4))"),
    ("sys", "print(sys.version_info[:2] >= (3, 8), sys.maxsize > 2 ** 32, sys.byteorder)"),
    ("site", "print(site.ENABLE_USER_SITE, bool(site.PREFIXES))"),
    ("gettext", r#"print(gettext.gettext("untranslated"))"#),
    ("mimetypes", r#"print(mimetypes.guess_type("x.json"))"#),
    ("tracemalloc", "print(tracemalloc.is_tracing())"),
];

fn import_stdlib(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("import.stdlib", n);
    for _ in 0..g.range(1, 2) {
        let (module, code) = g.pick(STDLIB);
        b.import(module);
        b.body(code);
    }
    b.done()
}

fn import_special(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("import.special", n);
    match g.range(0, 4) {
        0 => b.body(
            "
            try:
                import fuzz_missing_module_$n
            except ImportError as e_$n:
                print(\"import failed:\", e_$n)
            ",
        ),
        1 => b.import("importlib").body("print(importlib.import_module(\"json.decoder\").__name__)"),
        2 => b
            .import("importlib")
            .import("textwrap")
            .body("print(\"reloaded\", importlib.reload(textwrap).__name__, textwrap.dedent(\"  x\"))"),
        3 => {
            b.import("asyncio");
            b.def(
                "
                async def coro_$n(k):
                    await asyncio.sleep(0)
                    return k * 2
                ",
            );
            b.body("print(\"asyncio\", asyncio.run(coro_$n(21)))")
        }
        // numpy is not preloaded in most batches: importing it retires a warm executor.
        _ => b.import("numpy").body("print(\"numpy\", numpy.arange(6).reshape(2, 3).sum(axis=0).tolist())"),
    };
    b.done()
}

// ---------------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------------

fn mp_fork(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
    let mut b = B::new("mp.fork", n);
    b.import("multiprocessing").import("sys").import("os");
    let child_end = g.pick(&["", "raise ValueError(\"child $n failed\")", "sys.exit(3)", "os._exit(4)"]);
    b.def_with(
        "
        def mp_child_$n(k):
            print(\"mp child $n\", k)
            $END
        ",
        &[("$END", child_end)],
    );
    if g.chance(0.3) && !ctx.threading_hook {
        b.body(
            "
            with multiprocessing.get_context(\"fork\").Pool(2) as pool_$n:
                print(\"pool map\", pool_$n.map(abs, [-1, -2, -3]))
            ",
        );
    } else {
        b.body(
            "
            p_$n = multiprocessing.get_context(\"fork\").Process(target=mp_child_$n, args=($n,))
            p_$n.start()
            p_$n.join()
            print(\"mp exit code\", p_$n.exitcode, p_$n.name)
            ",
        );
    }
    b.done()
}

fn mp_spawn_rare(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
    // A spawned child starts a fresh python (and multiprocessing's resource tracker): costly, so
    // only one draw in four.
    if !g.chance(0.25) {
        return mp_fork(g, n, ctx);
    }
    let mut b = B::new("mp.spawn", n);
    b.import("multiprocessing");
    b.def(
        "
        def spawn_child_$n(k):
            print(\"spawned child $n\", k, __name__)
        ",
    );
    b.body(
        "
        sp_$n = multiprocessing.get_context(\"spawn\").Process(target=spawn_child_$n, args=(7,))
        sp_$n.start()
        sp_$n.join()
        print(\"spawn exit code\", sp_$n.exitcode)
        ",
    );
    b.guard();
    b.done()
}

fn mp_os_fork(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mp.os_fork", n);
    b.import("os").import("sys");
    if g.chance(0.5) {
        b.body("sys.stdout.flush()");
    }
    let child = g.pick(&["os._exit(5)", "sys.stdout.flush()\n    os._exit(0)", "sys.exit(3)"]);
    b.body_with(
        "
        pid_$n = os.fork()
        if pid_$n == 0:
            print(\"forked child $n\")
            $CHILD
        _, status_$n = os.waitpid(pid_$n, 0)
        print(\"child status $n\", os.waitstatus_to_exitcode(status_$n))
        ",
        &[("$CHILD", child)],
    );
    b.done()
}

fn mp_subprocess(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mp.subprocess", n);
    b.import("subprocess").import("sys");
    if g.chance(0.6) {
        b.body("sys.stdout.flush()");
    }
    match g.range(0, 2) {
        0 => b.body(
            "
            r_$n = subprocess.run([sys.executable, \"-c\", \"import sys; print('child says', len(sys.argv)); sys.exit(3)\"])
            print(\"child returncode\", r_$n.returncode)
            ",
        ),
        1 => b.body(
            "
            r_$n = subprocess.run([sys.executable, \"-c\", \"import sys; print('out'); print('err', file=sys.stderr)\"], capture_output=True, text=True)
            print(\"captured\", repr(r_$n.stdout), repr(r_$n.stderr), r_$n.returncode)
            ",
        ),
        _ => b.body("subprocess.run([\"echo\", \"from echo $n\"])"),
    };
    b.done()
}

// ---------------------------------------------------------------------------------------------------
// Mutations of process state
// ---------------------------------------------------------------------------------------------------

fn mutate_cwd(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.cwd", n);
    b.import("os");
    let dir =
        g.pick(&["\"/\"", "\"/tmp\"", "\"..\"", "\"/usr\"", "os.path.dirname(os.path.abspath(__file__))"]);
    b.body(&format!("os.chdir({dir})\nprint(\"cwd now\", os.getcwd())"));
    b.done()
}

fn mutate_environ(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.environ", n);
    b.import("os");
    let key = g.range(1, 3);
    match g.range(0, 6) {
        0 | 1 => b.body(&format!("os.environ[\"FUZZ_VAR_{key}\"] = {}", lit(g.word()))),
        2 => b.body("os.environ.pop(\"HOME\", None)"),
        3 => b.body("os.environ.update(FUZZ_A=\"1\", FUZZ_B=\"2\")"),
        4 => b.body(&format!("os.putenv(\"FUZZ_PUTENV_{key}\", \"c-level only\")")),
        5 => b.body("os.unsetenv(\"LANG\")"),
        _ => b.body("os.environ.clear()"),
    };
    b.body("print(\"fuzz env\", sorted((k, v) for k, v in os.environ.items() if k.startswith(\"FUZZ\")), \"HOME\" in os.environ)");
    b.done()
}

fn mutate_umask(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.umask", n);
    b.import("os");
    let mask = g.pick(&["0o077", "0o000", "0o027", "0o002"]);
    b.body(&format!("print(\"umask was\", oct(os.umask({mask})))"));
    b.done()
}

fn mutate_argv(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn mutate_sys_path(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.sys_path", n);
    b.import("sys");
    match g.range(0, 4) {
        0 => b.body("sys.path.insert(0, \"/tmp/fuzz-path-$n\")"),
        1 => b.body("sys.path.append(\"/nonexistent/fuzz\")"),
        2 => b.body("del sys.path[0]"),
        // The standard library stays importable: an import that fails in python may succeed in an
        // executor that already has the module (docs/differences.md, "Modules already imported").
        3 => b.body("sys.path[1:1] = [\"/nonexistent/a\", \"/nonexistent/b\"]"),
        _ => b.body("sys.path = sys.path + [\"/tmp/fuzz-rebound\"]"),
    };
    b.body("print(\"sys.path now\", len(sys.path), sys.path[:1])");
    b.done()
}

fn mutate_sys_modules(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.sys_modules", n);
    b.import("sys").import("types");
    let k = g.range(1, 2);
    match g.range(0, 3) {
        0 => b.body(&format!(
            "sys.modules[\"fuzz_fake_{k}\"] = types.ModuleType(\"fuzz_fake_{k}\")\nimport fuzz_fake_{k}\nprint(\"fake module\", fuzz_fake_{k}.__name__)"
        )),
        1 => b.import("json").body("del sys.modules[\"json\"]\nimport json as json_again_$n\nprint(\"json re-imported\", json_again_$n is json)"),
        2 => b.body("sys.modules[\"textwrap\"] = types.ModuleType(\"fake textwrap\")\nimport textwrap as tw_$n\nprint(\"textwrap replaced\", hasattr(tw_$n, \"fill\"))"),
        // Imported first: whether runner's executor had it already is a documented difference.
        _ => b.import("keyword").body("del sys.modules[\"keyword\"]\nimport keyword as kw_$n\nprint(\"keyword\", kw_$n is keyword, kw_$n.iskeyword(\"if\"))"),
    };
    b.done()
}

fn mutate_meta_path(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.meta_path", n);
    b.import("sys");
    b.def(
        "
        class Finder_$n:
            def find_spec(self, name, path, target=None):
                if name.startswith(\"fuzz\"):
                    print(\"finder $n asked for\", name)
                return None
        ",
    );
    b.body(
        "
        sys.meta_path.insert(0, Finder_$n())
        try:
            import fuzz_found_nowhere
        except ImportError:
            print(\"not found\")
        ",
    );
    b.done()
}

fn mutate_builtins(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn mutate_hooks(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn mutate_trace(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn mutate_audit(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

/// Signal state and a line that prints it (handler names, blocked signals, an armed timer).
const SIGNAL_STATE: &str = "print(\"signals\", [getattr(h, \"__name__\", str(h)) for h in map(signal.getsignal, (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGPIPE, signal.SIGHUP, signal.SIGCHLD, signal.SIGXFSZ))], sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])), signal.getitimer(signal.ITIMER_REAL)[0] > 0)";

fn mutate_signals(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.signals", n);
    b.import("signal").import("os");
    match g.range(0, 6) {
        6 => {
            b.body(
                "
                def raising_handler_$n(signum, frame):
                    raise ValueError(\"from the handler of \" + signal.Signals(signum).name)
                signal.signal(signal.SIGUSR1, raising_handler_$n)
                try:
                    signal.raise_signal(signal.SIGUSR1)
                except ValueError as e_$n:
                    print(\"handler raised:\", e_$n)
                ",
            );
        }
        0 => {
            b.def(
                "
                def on_signal_$n(signum, frame):
                    print(\"handler $n got\", signal.Signals(signum).name)
                ",
            );
            let sig = g.pick(&["SIGUSR1", "SIGUSR2", "SIGTERM", "SIGHUP", "SIGALRM", "SIGINT"]);
            b.body_with(
                "signal.signal(signal.$SIG, on_signal_$n)\nsignal.raise_signal(signal.$SIG)\nprint(\"after the handler $n\")",
                &[("$SIG", sig)],
            );
        }
        1 => {
            let sig = g.pick(&["SIGINT", "SIGTERM", "SIGUSR1", "SIGHUP"]);
            b.body_with(
                "signal.signal(signal.$SIG, signal.SIG_IGN)\nsignal.raise_signal(signal.$SIG)",
                &[("$SIG", sig)],
            );
        }
        2 => {
            b.body("signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])");
        }
        3 => {
            b.body("signal.signal(signal.SIGALRM, signal.SIG_IGN)\nsignal.setitimer(signal.ITIMER_REAL, 60)");
        }
        4 => {
            b.body("wr_$n, ww_$n = os.pipe()\nos.set_blocking(ww_$n, False)\nprint(\"old wakeup fd\", signal.set_wakeup_fd(ww_$n))");
        }
        _ => {
            b.body("signal.signal(signal.SIGPIPE, signal.SIG_DFL)\nsignal.signal(signal.SIGCHLD, signal.SIG_IGN)");
        }
    }
    b.body(SIGNAL_STATE);
    b.done()
}

fn mutate_recursion(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn mutate_interpreter_limits(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn mutate_gc(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn mutate_warnings(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn mutate_streams(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
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

fn mutate_sys_attrs(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

fn mutate_threading(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.threading", n);
    b.import("threading");
    match g.range(0, 3) {
        0 => b.body("threading.current_thread().name = \"renamed-main-$n\""),
        1 => b.body("threading.stack_size(512 * 1024)"),
        2 => b.body("threading.Thread.fuzz_attr = $n"),
        _ => b.body("for i_$n in range(3):\n    x_$n = threading.Thread(target=int)\n    x_$n.start()\n    x_$n.join()"),
    };
    b.body("print(\"threading now\", threading.current_thread().name, threading.stack_size(), hasattr(threading.Thread, \"fuzz_attr\"), threading.Thread(target=int).name)");
    b.done()
}

/// Objects of standard-library modules that a fresh python has already imported, changed in place
/// (not rebound): class attributes, ABC registrations.
fn mutate_stdlib_objects(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.stdlib_objects", n);
    b.import("collections").import("collections.abc").import("enum");
    match g.range(0, 3) {
        0 => b.body("collections.Counter.fuzz_attr = $n"),
        1 => b.body("collections.abc.Set.register(dict)"),
        2 => b.body("enum.Enum.fuzz_attr = $n"),
        _ => b.import("json").body("json.JSONEncoder.item_separator = \";\"\nprint(json.dumps([1, 2]))"),
    };
    b.body("print(\"stdlib objects now\", hasattr(collections.Counter, \"fuzz_attr\"), isinstance({}, collections.abc.Set), hasattr(enum.Enum, \"fuzz_attr\"))");
    b.done()
}

fn mutate_codec_error_handler(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.codec_error_handler", n);
    b.import("codecs");
    b.body("codecs.register_error(\"fuzz_handler\", lambda e: (\"?\", e.end))\nprint(\"decoded\", b\"a\\xffb\".decode(\"ascii\", \"fuzz_handler\"))");
    b.done()
}

fn mutate_at_fork(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
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

/// Per-process state kept by the kernel or the C library: niceness, affinity, limits, dlopen flags.
fn mutate_process(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.process", n);
    b.import("os").import("sys").import("resource");
    match g.range(0, 4) {
        0 => b.body("os.nice(1)"),
        1 => b.body("os.sched_setaffinity(0, {0})"),
        2 => b.body("soft_$n, hard_$n = resource.getrlimit(resource.RLIMIT_NOFILE)\nresource.setrlimit(resource.RLIMIT_NOFILE, (min(soft_$n, 1000), hard_$n))"),
        3 => b.body("sys.setdlopenflags(os.RTLD_NOW | os.RTLD_GLOBAL)"),
        _ => b.body("sys.set_coroutine_origin_tracking_depth(5)"),
    };
    b.body("print(\"process now\", os.nice(0), sorted(os.sched_getaffinity(0)), resource.getrlimit(resource.RLIMIT_NOFILE), sys.getdlopenflags(), sys.get_coroutine_origin_tracking_depth())");
    b.done()
}

fn mutate_locale_tz(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.locale_tz", n);
    b.import("locale").import("os").import("time");
    match g.range(0, 3) {
        0 => b.body("locale.setlocale(locale.LC_ALL, \"C\")"),
        1 => b.body("locale.setlocale(locale.LC_NUMERIC, \"C.UTF-8\")"),
        2 => b.body(&format!(
            "os.environ[\"TZ\"] = {}\ntime.tzset()",
            lit(g.pick(&["UTC0", "EST+5EDT", "JST-9"]))
        )),
        _ => b.body("os.environ[\"TZ\"] = \"JST-9\""),
    };
    b.body("print(\"locale now\", locale.setlocale(locale.LC_ALL), time.tzname, time.timezone)");
    b.done()
}

/// State of C modules that a program imports: decimal's context, faulthandler, tracemalloc,
/// socket's default timeout.
fn mutate_c_module_state(g: &mut Gen, n: usize, ctx: &mut Ctx) -> Block {
    let mut b = B::new("mutate.c_module_state", n);
    match g.range(0, 3) {
        0 => b
            .import("decimal")
            .body("decimal.getcontext().prec = 5\nprint(\"decimal\", decimal.Decimal(2) / 3)"),
        1 => {
            ctx.faulthandler = true;
            b.import("faulthandler")
                .body("faulthandler.enable()\nprint(\"faulthandler\", faulthandler.is_enabled())")
        }
        2 => {
            b.import("tracemalloc").body("tracemalloc.start()\nprint(\"tracing\", tracemalloc.is_tracing())")
        }
        _ => b
            .import("socket")
            .body("socket.setdefaulttimeout(3.5)\nprint(\"socket timeout\", socket.getdefaulttimeout())"),
    };
    b.done()
}

fn mutate_fds(g: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.fds", n);
    b.import("os");
    match g.range(0, 2) {
        0 => b.body("leaked_$n = [os.open(os.devnull, os.O_RDONLY) for _ in range(3)]\nprint(\"leaked\", len(leaked_$n))"),
        1 => b.body("pipe_$n = os.pipe()\nprint(\"pipe open\")"),
        _ => b.body("os.close(0)\nprint(\"stdin descriptor closed\")"),
    };
    b.done()
}

fn mutate_random(_: &mut Gen, n: usize, _: &mut Ctx) -> Block {
    let mut b = B::new("mutate.random_seed", n);
    b.import("random");
    b.body("random.seed($n)\nprint(\"seeded random\", random.random(), random.randint(1, 1000))");
    b.done()
}

// ---------------------------------------------------------------------------------------------------
// Checks: process state as a fresh python sees it
// ---------------------------------------------------------------------------------------------------

fn check_cwd(_: &mut Gen, n: usize) -> Block {
    B::new("check.cwd", n).import("os").body("print(\"cwd\", os.getcwd())").done()
}

fn check_environ(_: &mut Gen, n: usize) -> Block {
    B::new("check.environ", n)
        .import("os")
        .body("print(\"environ\", sorted((k, v) for k, v in os.environ.items() if k.startswith(\"FUZZ\")), \"HOME\" in os.environ, os.environ.get(\"TZ\"), os.environ.get(\"LANG\"), \"PYTHONUNBUFFERED\" in os.environ)")
        .done()
}

fn check_environ_keys(_: &mut Gen, n: usize) -> Block {
    B::new("check.environ_keys", n)
        .import("os")
        .body("print(\"environ keys\", sorted(k for k in os.environ if k != \"CUDA_VISIBLE_DEVICES\"))")
        .done()
}

/// What a child process inherits: the C-level environment (os.putenv), not only os.environ.
fn check_child_environ(_: &mut Gen, n: usize) -> Block {
    B::new("check.child_environ", n)
        .import("subprocess")
        .import("sys")
        .body("sys.stdout.flush()\nsubprocess.run([sys.executable, \"-c\", \"import os; print('child environ', sorted(k for k in os.environ if k.startswith('FUZZ')), os.environ.get('TZ'), 'HOME' in os.environ)\"])")
        .done()
}

fn check_umask(_: &mut Gen, n: usize) -> Block {
    B::new("check.umask", n)
        .import("os")
        .body("umask_$n = os.umask(0o022)\nos.umask(umask_$n)\nprint(\"umask\", oct(umask_$n))")
        .done()
}

fn check_argv(_: &mut Gen, n: usize) -> Block {
    B::new("check.argv", n)
        .import("os")
        .import("sys")
        .body("print(\"argv\", sys.argv[1:], os.path.basename(sys.argv[0]), [os.path.basename(a) for a in sys.orig_argv])")
        .done()
}

fn check_sys_path(_: &mut Gen, n: usize) -> Block {
    B::new("check.sys_path", n)
        .import("os")
        .import("sys")
        .body("print(\"sys.path\", sys.path[0] == os.path.dirname(os.path.realpath(__file__)), sys.path[1:])")
        .done()
}

fn check_modules(_: &mut Gen, n: usize) -> Block {
    B::new("check.modules", n)
        .import("sys")
        .import("textwrap")
        .import("json")
        .body(
            "
            print(\"fuzz modules\", sorted(m for m in sys.modules if m.startswith(\"fuzz\")))
            for name_$n in (\"fuzz_fake_1\", \"fuzz_fake_2\"):
                try:
                    __import__(name_$n)
                    print(name_$n, \"importable\")
                except ImportError as e_$n:
                    print(e_$n)
            print(\"stdlib\", hasattr(textwrap, \"fill\"), json.dumps([1, 2]), hasattr(json, \"fuzz_attr\"))
            ",
        )
        .done()
}

fn check_builtins(_: &mut Gen, n: usize) -> Block {
    B::new("check.builtins", n)
        .import("builtins")
        .body("print(\"builtins\", sorted(k for k in dir(builtins) if \"fuzz\" in k), len(dir(builtins)), type(print).__name__, hasattr(builtins, \"input\"), builtins.exit is not None)")
        .done()
}

fn check_hooks(_: &mut Gen, n: usize) -> Block {
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

fn check_audit(_: &mut Gen, n: usize) -> Block {
    B::new("check.audit_hooks", n)
        .import("sys")
        .body("sys.audit(\"fuzz.check\", $n)\nprint(\"audit event sent\")")
        .done()
}

fn check_signals(_: &mut Gen, n: usize) -> Block {
    B::new("check.signals", n)
        .import("signal")
        .body(SIGNAL_STATE)
        .body("print(\"wakeup fd\", signal.set_wakeup_fd(-1))")
        .done()
}

fn check_limits(_: &mut Gen, n: usize) -> Block {
    B::new("check.interpreter_limits", n)
        .import("sys")
        .body("print(\"limits\", sys.getrecursionlimit(), sys.getswitchinterval(), sys.get_int_max_str_digits(), hasattr(sys, \"tracebacklimit\"))")
        .done()
}

fn check_depth(_: &mut Gen, n: usize) -> Block {
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

fn check_gc(_: &mut Gen, n: usize) -> Block {
    B::new("check.gc", n)
        .import("gc")
        .body("print(\"gc\", gc.isenabled(), gc.get_threshold(), gc.get_debug(), len(gc.callbacks), bool(gc.garbage))")
        .done()
}

fn check_warnings(_: &mut Gen, n: usize) -> Block {
    B::new("check.warnings", n)
        .import("warnings")
        .body("print(\"warnings\", len(warnings.filters), [f[0] for f in warnings.filters], warnings.showwarning.__name__, warnings.formatwarning.__name__)\nwarnings.warn(\"check $n warning\")")
        .done()
}

fn check_streams(_: &mut Gen, n: usize) -> Block {
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

fn check_fds(_: &mut Gen, n: usize) -> Block {
    B::new("check.fds", n)
        .import("os")
        .body("fd_$n = os.open(os.devnull, os.O_RDONLY)\nprint(\"first free fd\", fd_$n)\nos.close(fd_$n)")
        .done()
}

fn check_sys_attrs(_: &mut Gen, n: usize) -> Block {
    B::new("check.sys_attributes", n)
        .import("sys")
        .body("print(\"sys\", sorted(k for k in dir(sys) if \"fuzz\" in k), sys.dont_write_bytecode, hasattr(sys, \"ps1\"), hasattr(sys, \"last_value\"), hasattr(sys, \"tracebacklimit\"), sys.flags)")
        .done()
}

fn check_threads(_: &mut Gen, n: usize) -> Block {
    B::new("check.threading", n)
        .import("threading")
        .body("print(\"threading\", threading.active_count(), threading.current_thread().name, threading.current_thread() is threading.main_thread(), threading.stack_size(), threading.Thread(target=print).name, hasattr(threading.Thread, \"fuzz_attr\"))")
        .done()
}

fn check_stdlib_objects(_: &mut Gen, n: usize) -> Block {
    B::new("check.stdlib_objects", n)
        .import("collections")
        .import("collections.abc")
        .import("enum")
        .body("print(\"stdlib objects\", hasattr(collections.Counter, \"fuzz_attr\"), isinstance({}, collections.abc.Set), hasattr(enum.Enum, \"fuzz_attr\"))")
        .done()
}

fn check_codec_error_handler(_: &mut Gen, n: usize) -> Block {
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

fn check_process(_: &mut Gen, n: usize) -> Block {
    B::new("check.process", n)
        .import("os")
        .import("sys")
        .import("resource")
        .body("print(\"process\", os.nice(0), sorted(os.sched_getaffinity(0)), resource.getrlimit(resource.RLIMIT_NOFILE), sys.getdlopenflags(), sys.get_coroutine_origin_tracking_depth())")
        .done()
}

/// A bare fork: at-fork hooks a previous program registered would run (and write) here.
fn check_at_fork(_: &mut Gen, n: usize) -> Block {
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

fn check_locale_tz(_: &mut Gen, n: usize) -> Block {
    B::new("check.locale_tz", n)
        .import("locale")
        .import("time")
        .body("print(\"locale\", locale.setlocale(locale.LC_ALL), locale.localeconv()[\"decimal_point\"], time.tzname, time.timezone)")
        .done()
}

fn check_c_module_state(_: &mut Gen, n: usize) -> Block {
    B::new("check.c_module_state", n)
        .import("decimal")
        .import("faulthandler")
        .import("tracemalloc")
        .import("socket")
        .body("print(\"c modules\", decimal.getcontext().prec, faulthandler.is_enabled(), tracemalloc.is_tracing(), socket.getdefaulttimeout())")
        .done()
}

fn check_main_module(_: &mut Gen, n: usize) -> Block {
    B::new("check.main_module", n)
        .import("os")
        .import("sys")
        .body("print(\"main\", __name__, __package__, __spec__, type(__loader__).__name__, __doc__, __cached__, sorted(k for k in globals() if k.startswith(\"__\")), sys._getframe().f_back is None, os.path.basename(sys.executable), sys.exc_info())")
        .done()
}

fn check_meta_path(_: &mut Gen, n: usize) -> Block {
    B::new("check.meta_path", n)
        .import("sys")
        .body(
            "
            print(\"meta path\", [type(f).__name__ for f in sys.meta_path])
            try:
                import fuzz_found_nowhere
            except ImportError as e_$n:
                print(e_$n)
            ",
        )
        .done()
}

// ---------------------------------------------------------------------------------------------------
// Exit forms
// ---------------------------------------------------------------------------------------------------

fn exit_sys_exit(g: &mut Gen, n: usize, _: &Ctx) -> Block {
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

fn exit_os_exit(g: &mut Gen, n: usize, _: &Ctx) -> Block {
    let mut b = B::new("exit.os_exit", n);
    b.import("os").terminal();
    if g.chance(0.5) {
        b.body("print(\"buffered before os._exit\")");
    }
    b.body(&format!("os._exit({})", g.pick(&["0", "1", "3", "42", "255"])));
    b.done()
}

fn exit_signal(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
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

fn exit_abort(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
    if ctx.faulthandler {
        return exit_sys_exit(g, n, ctx);
    }
    let mut b = B::new("exit.abort", n);
    b.import("os").terminal();
    b.body("print(\"before abort\", flush=True)\nprint(\"lost in the buffer\")\nos.abort()");
    b.done()
}

fn exit_segfault(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
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

fn exit_exception(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
    if ctx.stderr_closed {
        return exit_sys_exit(g, n, ctx);
    }
    let mut b = B::new("exit.uncaught_exception", n);
    b.terminal();
    raise_statement(g, &mut b);
    b.done()
}

fn exit_keyboard_interrupt(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
    if ctx.stderr_closed {
        return exit_sys_exit(g, n, ctx);
    }
    let mut b = B::new("exit.keyboard_interrupt", n);
    b.terminal();
    b.body(g.pick(&["raise KeyboardInterrupt", "raise KeyboardInterrupt(\"interrupted $n\")"]));
    b.done()
}

fn exit_recursion(g: &mut Gen, n: usize, ctx: &Ctx) -> Block {
    if ctx.stderr_closed {
        return exit_sys_exit(g, n, ctx);
    }
    let mut b = B::new("exit.recursion_error", n);
    b.terminal();
    b.def("def rec_$n(k):\n    return rec_$n(k + 1)");
    b.body("rec_$n(0)");
    b.done()
}

fn exit_in_finally_or_with(g: &mut Gen, n: usize, _: &Ctx) -> Block {
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
fn exit_syntax_error(g: &mut Gen, n: usize, _: &Ctx) -> Block {
    let mut b = B::new("exit.syntax_error", n);
    b.terminal();
    b.body(g.pick(&["x_$n = (1,", "def broken_$n(:\n    pass", "print(\"unterminated)", "return $n"]));
    b.done()
}
