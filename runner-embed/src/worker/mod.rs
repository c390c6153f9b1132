//! The worker process: the `runner` binary started with the hidden `__worker` subcommand.
//!
//! It initialises the embedded interpreter as the selected Python would start, imports the preloads and
//! becomes the *zygote*: a single-threaded process that never runs user code and never touches CUDA,
//! whose only job is to fork *executors* on request and report how they end (it is their parent, so
//! only it can read their wait status). An executor is a forked copy of the zygote that runs programs
//! in-process: it receives a program and its output pipes, runs it with python's semantics
//! (`executor.py`), and either exits (fork mode, or when its state cannot be restored) or waits for the
//! next program (warm mode).

//!
//! - `zygote.rs`: start-up (interpreter, preloads, baseline) and the loop that forks executors and
//!   reports their exits;
//! - `executor.rs`: an executor's life, one `run_one` per program, and its exit codes;
//! - `capi.rs`: what runs a file as `python path` would and the small C-API helpers `executor.py`
//!   calls (dict versions, a module around an existing dict, unraisable reports, the std files' flush).

mod capi;
mod executor;
mod zygote;

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The fd on which a worker finds its socket to the supervisor.
pub const WORKER_FD: RawFd = 3;

/// The hidden subcommand that makes the `runner` binary a worker.
pub const WORKER_SUBCOMMAND: &str = "__worker";

/// Entry point of a worker process; never returns.
pub fn main() -> ! {
    // The Rust runtime of this binary catches SIGSEGV and SIGBUS (to report stack overflows); a python
    // process has the default dispositions, which programs (and their exit statuses) depend on.
    // SAFETY: resetting dispositions before any other thread exists.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
    // SAFETY: the supervisor placed our end of the socket pair on WORKER_FD before exec.
    let sock = unsafe { OwnedFd::from_raw_fd(WORKER_FD) };
    let code = match zygote::zygote(sock) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("runner worker: {e}");
            executor::ExitCode::Software as i32
        }
    };
    std::process::exit(code)
}
