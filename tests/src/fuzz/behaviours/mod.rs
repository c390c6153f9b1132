//! The `semantics` template's behaviours: output, exit forms, exceptions, threads, atexit, `__del__`,
//! imports, child processes, mutations of process state and checks of it. Each function makes one
//! [`Block`]; `blocks` composes a program from them, drawn from the weighted tables here
//! (`STATEMENTS`, `CHECKS`, `TERMINALS`). Their order and weights, and the order of every random draw
//! in a behaviour, are the generator's: changing one changes the programs of every seed.
//!
//! A file per theme: `output`, `exceptions`, `threads`, `exit` (atexit, finalizers, sleeps and the
//! exit forms), `imports`, `processes` (child processes), and the process-state files (`os_state`,
//! `signal_state`, `import_state`, `interpreter_state`, `stdlib_state`, `fresh_state`), where each
//! mutation sits beside the check that prints the same state. [`MUTATIONS`] says, in the names of the
//! warm-state registry, what state each behaviour can change (`mutations`).
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

mod exceptions;
mod exit;
mod fresh_state;
mod import_state;
mod imports;
mod interpreter_state;
mod mutations;
mod os_state;
mod output;
mod processes;
mod signal_state;
mod stdlib_state;
mod threads;

use super::grammar::{Block, Gen};

pub use mutations::{Mutation, FRESH_PER_PROGRAM, MUTATIONS, NOT_MUTATED};

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
    (12, output::out_print),
    (5, output::out_stderr),
    (3, output::out_no_newline),
    (3, output::out_bytes),
    (2, output::out_large),
    (4, output::out_fd),
    (2, output::out_flush),
    (1, output::out_carriage_return),
    (1, output::out_c_stdio),
    (1, output::out_surrogate),
    (1, output::out_objects),
    // Exceptions.
    (3, exceptions::exc_caught),
    (2, exceptions::exc_thread),
    (2, exceptions::exc_atexit),
    (2, exceptions::exc_del),
    (2, exceptions::exc_warning),
    // Threads.
    (2, threads::thread_joined),
    (1, threads::thread_parallel),
    (1, threads::thread_daemon),
    (1, threads::thread_late),
    (1, threads::thread_timer),
    (1, threads::thread_pool),
    // atexit and finalizers.
    (3, exit::atexit_print),
    (1, exit::atexit_special),
    (2, exit::del_object),
    (1, exit::del_cycle),
    (1, exit::sleep),
    // Imports.
    (4, imports::import_stdlib),
    (1, imports::import_special),
    // Child processes.
    (1, processes::mp_fork),
    (1, processes::mp_os_fork),
    (1, processes::mp_subprocess),
    (1, processes::mp_spawn_rare),
    // Mutations of process state, each followed by a print of that state.
    (2, os_state::mutate_cwd),
    (2, os_state::mutate_environ),
    (1, os_state::mutate_umask),
    (1, fresh_state::mutate_argv),
    (2, import_state::mutate_sys_path),
    (2, import_state::mutate_sys_modules),
    (1, import_state::mutate_meta_path),
    (2, interpreter_state::mutate_builtins),
    (2, interpreter_state::mutate_hooks),
    (1, interpreter_state::mutate_trace),
    (1, interpreter_state::mutate_audit),
    (2, signal_state::mutate_signals),
    (1, interpreter_state::mutate_recursion),
    (1, interpreter_state::mutate_interpreter_limits),
    (1, interpreter_state::mutate_gc),
    (2, interpreter_state::mutate_warnings),
    (2, fresh_state::mutate_streams),
    (1, interpreter_state::mutate_sys_attrs),
    (1, stdlib_state::mutate_threading),
    (1, stdlib_state::mutate_stdlib_objects),
    (1, interpreter_state::mutate_codec_error_handler),
    (1, interpreter_state::mutate_at_fork),
    (1, os_state::mutate_process),
    (1, os_state::mutate_locale_tz),
    (1, stdlib_state::mutate_c_module_state),
    (1, os_state::mutate_fds),
    (1, stdlib_state::mutate_random),
    // Checks anywhere in the program (they also open most programs, see `blocks`).
    (4, check_statement),
];

/// Checks of process state and their weights.
const CHECKS: &[(u32, Check)] = &[
    (3, os_state::check_cwd),
    (3, os_state::check_environ),
    (1, os_state::check_environ_keys),
    (1, os_state::check_child_environ),
    (2, os_state::check_umask),
    (2, fresh_state::check_argv),
    (2, import_state::check_sys_path),
    (2, import_state::check_modules),
    (2, interpreter_state::check_builtins),
    (2, interpreter_state::check_hooks),
    (1, interpreter_state::check_audit),
    (2, signal_state::check_signals),
    (2, interpreter_state::check_limits),
    (1, interpreter_state::check_depth),
    (2, interpreter_state::check_gc),
    (2, interpreter_state::check_warnings),
    (2, fresh_state::check_streams),
    (2, os_state::check_fds),
    (2, interpreter_state::check_sys_attrs),
    (2, stdlib_state::check_threads),
    (1, stdlib_state::check_stdlib_objects),
    (1, interpreter_state::check_codec_error_handler),
    (1, os_state::check_process),
    (1, interpreter_state::check_at_fork),
    (1, os_state::check_locale_tz),
    (1, stdlib_state::check_c_module_state),
    (2, fresh_state::check_main_module),
    (1, import_state::check_meta_path),
];

/// Exit forms and their weights.
const TERMINALS: &[(u32, Terminal)] = &[
    (30, exit::exit_sys_exit),
    (24, exit::exit_exception),
    (8, exit::exit_os_exit),
    (12, exit::exit_signal),
    (3, exit::exit_abort),
    (4, exit::exit_segfault),
    (5, exit::exit_keyboard_interrupt),
    (3, exit::exit_recursion),
    (6, exit::exit_in_finally_or_with),
    (1, exit::exit_syntax_error),
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
