//! What each `semantics` behaviour can leave changed for the next program of a warm executor, in the
//! names of runner-embed's warm-state registry (`warm_state.py`'s `REGISTRY`, read through
//! [`crate::warm_state_registry`]), and [`FRESH_PER_PROGRAM`] for state every program gets fresh:
//! [`MUTATIONS`] per behaviour, and [`NOT_MUTATED`] for the entries that no behaviour changes, with
//! the reason. The tests keep them in step with the tables of [`super`] (every `mutate.*` block is
//! listed) and with the registry (every entry is accounted for, every name is an entry).

/// The process state that one behaviour can leave changed: what the next program of a warm executor
/// would find, where a fresh python starts clean.
#[derive(Debug)]
pub struct Mutation {
    /// The behaviour: a [`Block`](crate::fuzz::grammar::Block)'s kind (`mutate.cwd`).
    pub block: &'static str,
    /// What it can change, in every variant: entries of the warm-state registry (state the executor
    /// restores, or checks and retires on) or of [`FRESH_PER_PROGRAM`].
    pub state: &'static [&'static str],
}

/// What each behaviour can leave changed: every `mutate.*` block (changing the state is its point),
/// then the other behaviours that change state on the way. Not listed: the modules a block's hoisted
/// imports add (only the `import.*` blocks, whose point that is, name `modules`), and checks that
/// put state back to a fresh python's value (`check.umask`, `check.signals`' wakeup fd).
pub const MUTATIONS: &[Mutation] = &[
    Mutation { block: "mutate.cwd", state: &["cwd"] },
    // os.environ's changes go through putenv/unsetenv; os.putenv and os.unsetenv go only there.
    Mutation { block: "mutate.environ", state: &["environ", "c_environ"] },
    Mutation { block: "mutate.umask", state: &["umask"] },
    // Changed in place, or rebound (`sys.argv = [...]`).
    Mutation { block: "mutate.argv", state: &["argv", "sys_attributes"] },
    Mutation { block: "mutate.sys_path", state: &["import_system"] },
    Mutation { block: "mutate.sys_modules", state: &["modules"] },
    Mutation { block: "mutate.meta_path", state: &["import_system"] },
    Mutation { block: "mutate.builtins", state: &["builtins"] },
    // sys's hooks; threading.excepthook; sys.set_asyncgen_hooks.
    Mutation { block: "mutate.hooks", state: &["sys_attributes", "stdlib_globals", "coroutine_hooks"] },
    Mutation { block: "mutate.trace", state: &["tracing"] },
    Mutation { block: "mutate.audit_hook", state: &["audit_hooks"] },
    // The pipe whose end becomes the wakeup fd stays open.
    Mutation {
        block: "mutate.signals",
        state: &["signal_handlers", "signal_mask", "itimer", "wakeup_fd", "file_descriptors"],
    },
    Mutation { block: "mutate.recursion_limit", state: &["interpreter_limits"] },
    Mutation { block: "mutate.interpreter_limits", state: &["interpreter_limits"] },
    Mutation { block: "mutate.gc", state: &["gc"] },
    // Filters, showwarning, formatwarning.
    Mutation { block: "mutate.warnings", state: &["warnings"] },
    // The sys.std* objects and their settings, and descriptors 1 and 2 (closed, redirected).
    Mutation { block: "mutate.std_streams", state: &["std_streams"] },
    Mutation { block: "mutate.sys_attributes", state: &["sys_attributes"] },
    // The main thread's name, the stack size, the name counter; an attribute of threading.Thread.
    Mutation { block: "mutate.threading", state: &["threading", "stdlib_classes"] },
    Mutation { block: "mutate.stdlib_objects", state: &["stdlib_classes", "abc_registrations"] },
    // Neither can be unregistered: the lambdas keep __main__'s globals alive, which is how they show.
    Mutation { block: "mutate.codec_error_handler", state: &["main_module"] },
    Mutation { block: "mutate.at_fork", state: &["main_module"] },
    Mutation {
        block: "mutate.process",
        state: &["priority", "affinity", "rlimits", "dlopen_flags", "coroutine_hooks"],
    },
    // TZ is set through os.environ, and time.tzset() applies it (or not).
    Mutation { block: "mutate.locale_tz", state: &["c_locale", "time_zone", "environ", "c_environ"] },
    Mutation {
        block: "mutate.c_module_state",
        state: &["context", "faulthandler", "tracemalloc", "socket_timeout"],
    },
    // Descriptors left open, or descriptor 0 closed.
    Mutation { block: "mutate.fds", state: &["file_descriptors", "std_streams"] },
    Mutation { block: "mutate.random_seed", state: &["random"] },
    // Output left in C stdio's buffer, which python's exit flushes.
    Mutation { block: "out.c_stdio", state: &["std_streams"] },
    // A thread's default name takes a number from threading's counter.
    Mutation { block: "exc.in_thread", state: &["threading"] },
    Mutation { block: "exc.in_atexit", state: &["atexit"] },
    Mutation { block: "thread.joined", state: &["threading"] },
    Mutation { block: "thread.parallel", state: &["threading"] },
    // Still running when the program ends.
    Mutation { block: "thread.daemon", state: &["threading", "threads"] },
    Mutation { block: "thread.outlives_main", state: &["threading", "threads"] },
    Mutation { block: "thread.timer", state: &["threading"] },
    // concurrent.futures registers a threading exit hook when it is imported.
    Mutation { block: "thread.pool", state: &["threading"] },
    Mutation { block: "atexit.handler", state: &["atexit"] },
    // threading._register_atexit; weakref.finalize marks its class as registered with atexit.
    Mutation { block: "atexit.special", state: &["atexit", "threading", "stdlib_classes"] },
    // One variant: an atexit handler holds the object.
    Mutation { block: "del.finalizer", state: &["atexit"] },
    // Module state filled on use: mimetypes' tables, logging's handlers, the codec cache.
    Mutation { block: "import.stdlib", state: &["modules", "stdlib_globals"] },
    // A reload re-runs textwrap's code; asyncio.run sets asyncio's event loop policy.
    Mutation { block: "import.special", state: &["modules", "stdlib_globals"] },
    // multiprocessing's process counter, which names the next Process; a Pool's handler threads take
    // numbers from threading's counter.
    Mutation { block: "mp.fork", state: &["stdlib_globals", "threading"] },
    // And the pipe to the resource tracker that the spawn start method starts.
    Mutation { block: "mp.spawn", state: &["stdlib_globals", "file_descriptors"] },
    // The name of a Thread it makes (and never starts) takes a number from threading's counter.
    Mutation { block: "check.threading", state: &["threading"] },
    // A handler left installed; SIGINT's KeyboardInterrupt, uncaught, sets sys.last_*.
    Mutation { block: "exit.signal", state: &["signal_handlers", "sys_attributes"] },
    // An uncaught exception sets sys.last_type, last_value and last_traceback (PyErr_Print).
    Mutation { block: "exit.uncaught_exception", state: &["sys_attributes"] },
    Mutation { block: "exit.keyboard_interrupt", state: &["sys_attributes"] },
    Mutation { block: "exit.recursion_error", state: &["sys_attributes"] },
    Mutation { block: "exit.syntax_error", state: &["sys_attributes"] },
];

/// The entries of the warm-state registry that no `semantics` behaviour changes, and why.
pub const NOT_MUTATED: &[(&str, &str)] = &[
    (
        "warn_once_caches",
        "needs a preloaded module whose cached function warns, which no fuzz program has: \
         tests/tests/embedded.rs::a_warning_a_preloaded_library_gives_once_per_process_is_given_to_every_program covers it",
    ),
    (
        "cuda",
        "needs a GPU, which no fuzz program uses: bench/gpu.sh's sticky step (a device-side assert, then a \
         CUDA program on the same warm worker) covers it",
    ),
    (
        "torch_random",
        "torch state: the `torch` template (torch.manual_seed) and tests/tests/torch_state.rs cover it",
    ),
    (
        "torch_defaults",
        "torch state: tests/tests/torch_state.rs covers it (default dtype and device, grad mode, print options)",
    ),
    (
        "torch_flags",
        "torch state: tests/tests/torch_state.rs covers it (deterministic algorithms, threads, matmul \
         precision, anomaly detection, cudnn)",
    ),
    (
        "torch_configs",
        "torch state: the `torch` template (torch._dynamo.config) and tests/tests/torch_state.rs cover it",
    ),
    (
        "torch_compiled",
        "torch state: the `torch` template (torch.compile) and tests/tests/torch_state.rs cover it",
    ),
];

/// State that is not restored but made fresh for each program, so it has no registry entry: the
/// standard streams and descriptors 0 to 2, sys.argv's contents, `__main__` (and whatever keeps its
/// globals alive after the program, which is how what cannot be undone shows), atexit handlers.
pub const FRESH_PER_PROGRAM: &[&str] = &["std_streams", "argv", "main_module", "atexit"];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::{Ctx, CHECKS, STATEMENTS, TERMINALS};
    use super::*;
    use crate::fuzz::grammar::Gen;

    /// The registry's names, as the executor has them.
    fn registry_names() -> Vec<String> {
        crate::warm_state_registry().into_iter().map(|e| e.name).collect()
    }

    /// Every kind the tables produce: each maker, run from many random states.
    fn kinds() -> BTreeSet<&'static str> {
        let mut kinds = BTreeSet::new();
        for index in 0..64 {
            for (_, make) in STATEMENTS {
                kinds.insert(make(&mut Gen::for_program(0, index), 0, &mut Ctx::default()).kind);
            }
            for (_, make) in CHECKS {
                kinds.insert(make(&mut Gen::for_program(0, index), 0).kind);
            }
            for (_, make) in TERMINALS {
                kinds.insert(make(&mut Gen::for_program(0, index), 0, &Ctx::default()).kind);
            }
        }
        kinds
    }

    #[test]
    fn every_mutation_names_the_state_it_changes() {
        let registry = registry_names();
        let kinds = kinds();
        let listed: BTreeSet<&str> = MUTATIONS.iter().map(|m| m.block).collect();
        assert_eq!(listed.len(), MUTATIONS.len(), "a block is listed twice in MUTATIONS");
        for kind in kinds.iter().filter(|k| k.starts_with("mutate.")) {
            assert!(listed.contains(kind), "{kind} is missing from MUTATIONS");
        }
        for m in MUTATIONS {
            assert!(kinds.contains(m.block), "MUTATIONS lists {}, which no table makes", m.block);
            assert!(!m.state.is_empty(), "{} names no state", m.block);
            for name in m.state {
                assert!(
                    registry.iter().any(|e| e == name) || FRESH_PER_PROGRAM.contains(name),
                    "{}: {name} is neither a registry entry nor fresh per program",
                    m.block
                );
            }
        }
    }

    #[test]
    fn every_registry_entry_is_mutated_or_said_why_not() {
        let registry = registry_names();
        let mutated: BTreeSet<&str> = MUTATIONS.iter().flat_map(|m| m.state.iter().copied()).collect();
        let not_mutated: BTreeSet<&str> = NOT_MUTATED.iter().map(|(name, _)| *name).collect();
        assert_eq!(not_mutated.len(), NOT_MUTATED.len(), "an entry is listed twice in NOT_MUTATED");
        for name in &not_mutated {
            assert!(
                registry.iter().any(|e| e == name),
                "NOT_MUTATED lists {name}, which is no registry entry"
            );
            assert!(!mutated.contains(name), "{name} is both mutated and in NOT_MUTATED");
        }
        for name in &registry {
            assert!(
                mutated.contains(name.as_str()) || not_mutated.contains(name.as_str()),
                "{name}: no behaviour mutates it and NOT_MUTATED does not say why"
            );
        }
    }
}
