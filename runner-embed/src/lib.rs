//! runner's engines. [`SubprocessEngine`] runs `python /abs/prog.py` in a fresh process (the reference
//! and fallback); the embedded engine (zygote and executors) runs programs inside forked, pre-warmed
//! CPython processes. Every engine turns a [`ProgramSpec`] into a [`RunResult`] through the same
//! supervision loop, so capture, caps, timeouts and leak handling behave identically across modes.

mod supervise;
mod unix;

pub mod subprocess;

pub use subprocess::SubprocessEngine;

use std::path::PathBuf;

use runner_core::text::decode_output;
use runner_core::{Mode, ProgramSpec, RunResult};

/// Why an engine could not produce a result for a program (the program's own failures are results).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The interpreter could not be started.
    #[error("cannot start python {python}: {source}")]
    Spawn {
        /// The interpreter that failed to start.
        python: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Supervising the program failed (poll, read or wait).
    #[error("supervising the program failed: {0}")]
    Supervise(std::io::Error),
}

/// Builds the result record from what the supervision loop saw.
pub(crate) fn result_from(spec: &ProgramSpec, mode: Mode, o: supervise::Outcome) -> RunResult {
    RunResult {
        success: o.returncode == 0,
        stdout: decode_output(&o.stdout),
        stderr: decode_output(&o.stderr),
        returncode: o.returncode,
        program: spec.path.clone(),
        mode,
        device: spec.device().map(String::from),
        duration: o.duration.as_secs_f64(),
        timed_out: o.timed_out,
        truncated: o.truncated,
        leaked_pipes: o.leaked_pipes,
    }
}
