//! runner's engines. [`SubprocessEngine`] runs `python /abs/prog.py` in a fresh process (the reference
//! and fallback); [`EmbeddedEngine`] runs programs inside executors forked from a pre-warmed CPython
//! zygote ([`worker`]). Every engine turns a [`ProgramSpec`] into a [`RunResult`] through the same
//! supervision loop, so capture, caps, timeouts and leak handling behave identically across modes.
//! [`Engines::prepare`] picks and starts the engine a configuration asks for, falling back to the
//! subprocess engine where embedding cannot serve.

mod cgroup;
mod embedded;
mod interp;
pub mod nanny;
mod protocol;
mod state;
mod supervise;
mod unix;

pub mod dispatcher;

/// Kills every process group the runner has started (programs, executors, the zygote): the
/// emergency stop of a second Ctrl-C.
pub fn kill_everything() {
    KILLED.store(true, std::sync::atomic::Ordering::SeqCst);
    unix::kill_tracked_groups();
}

/// Set by [`kill_everything`]: the run is being stopped, so an engine that sees its processes die
/// neither starts new ones (a zygote, the subprocess fallback) nor runs a program again.
static KILLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether [`kill_everything`] has run.
pub(crate) fn killed() -> bool {
    KILLED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Set at the first interrupt (Ctrl-C, SIGTERM: a scheduler's termination reaches every process of
/// the job at once, the zygote too), and the condition that wakes whoever waits for it.
static STOPPING: (std::sync::Mutex<bool>, std::sync::Condvar) =
    (std::sync::Mutex::new(false), std::sync::Condvar::new());

/// Notes that the run is being stopped by an interrupt: from now on an engine that sees its zygote
/// die does not start another to run the program again (the death is a casualty of the same
/// termination; `--resume` runs the program).
pub(crate) fn note_stopping() {
    let mut stopping = STOPPING.0.lock().unwrap_or_else(|e| e.into_inner());
    *stopping = true;
    STOPPING.1.notify_all();
}

/// Whether the run is being stopped, or an interrupt comes within `window` (a termination sent to
/// every process may reach the zygote before runner's own handler has run).
pub(crate) fn stopping_within(window: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + window;
    let mut stopping = STOPPING.0.lock().unwrap_or_else(|e| e.into_inner());
    while !*stopping && !killed() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        stopping = STOPPING.1.wait_timeout(stopping, left).unwrap_or_else(|e| e.into_inner()).0;
    }
    true
}

/// Releases what the runner made for its programs that outlives them (its cgroup directory); call
/// as the runner ends.
pub fn finish() {
    cgroup::remove_tree();
}

/// Records the signal dispositions the runner was started with, so that programs start with them
/// (a signal its parent left ignored, as `nohup` does, stays ignored). Call first thing in `main`,
/// before anything installs a handler.
pub fn record_inherited_signals() {
    unix::record_inherited_signals();
}

/// Keeps the descriptors the runner inherited (above 2) from the programs it runs, as python under
/// `ProgramRunner` starts without them. Call first thing in `main`.
pub fn keep_inherited_descriptors_from_programs() {
    unix::cloexec_inherited_descriptors();
}

pub mod subprocess;
pub mod worker;

pub use embedded::{probe, EmbeddedEngine, PythonFacts, Zygote, Zygotes, LINKED_PYTHON};
pub use subprocess::SubprocessEngine;

use std::path::PathBuf;
use std::sync::Arc;

use runner_core::text::decode_output;
use runner_core::{EngineFailure, EngineFailureKind, Mode, ProgramSpec, RunConfig, RunResult};

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
    /// The interpreter ran but did not say what it is.
    #[error("{python} did not answer as a Python 3 interpreter")]
    Probe {
        /// The interpreter asked.
        python: PathBuf,
    },
    /// Supervising the program failed (poll, read or wait).
    #[error("supervising the program failed: {0}")]
    Supervise(std::io::Error),
    /// Starting or talking to the worker process failed.
    #[error("worker process: {0}")]
    Worker(std::io::Error),
    /// The embedded interpreter could not be set up (initialisation, a preload).
    #[error("embedded interpreter set-up failed: {0}")]
    Setup(String),
    /// The zygote is gone, so no executor can be had.
    #[error("the worker process died")]
    ZygoteDied,
    /// The zygote could not fork an executor.
    #[error("fork failed: {0}")]
    ForkFailed(String),
    /// The executor's own code failed around the program (its words, a traceback of runner's code).
    #[error("the executor failed: {0}")]
    ExecutorFailed(String),
    /// The program broke the executor's channel to the supervisor (closed or replaced its socket,
    /// wrote on it), so nothing the executor says can be trusted.
    #[error("{0}")]
    Channel(String),
    /// The program killed its executor's parent (`os.kill(os.getppid(), SIGKILL)`), and the executor
    /// died with it.
    #[error("the program killed its executor's parent")]
    ParentKilled,
}

impl EngineError {
    /// Whether the interpreter itself could not be started or asked (so nothing of the program ran):
    /// a set-up error, not a failure of a running engine.
    pub fn is_setup(&self) -> bool {
        matches!(self, EngineError::Spawn { .. } | EngineError::Probe { .. })
    }

    /// The engine failure a program's record carries when this error took its result.
    pub fn failure(&self) -> EngineFailure {
        let kind = match self {
            EngineError::Spawn { .. } | EngineError::Probe { .. } | EngineError::Setup(_) => {
                EngineFailureKind::Spawn
            }
            EngineError::Supervise(_) => EngineFailureKind::Supervise,
            EngineError::Worker(_) => EngineFailureKind::Protocol,
            EngineError::ZygoteDied => EngineFailureKind::ZygoteDied,
            EngineError::ForkFailed(_) => EngineFailureKind::ForkFailed,
            EngineError::ExecutorFailed(_) => EngineFailureKind::ExecutorFailed,
            EngineError::Channel(_) => EngineFailureKind::Channel,
            EngineError::ParentKilled => EngineFailureKind::ParentKilled,
        };
        let message = match self {
            EngineError::ExecutorFailed(message) => message.clone(),
            other => other.to_string(),
        };
        EngineFailure { kind, message }
    }
}

/// The engines of one run: the configuration (its mode possibly changed by a fallback) and, for the
/// embedded modes, the running zygote that every thread shares.
pub struct Engines {
    config: RunConfig,
    zygote: Option<Arc<Zygotes>>,
    fallback: Option<String>,
}

impl Engines {
    /// Starts what `config.mode` needs, once the interpreter has answered as a Python 3 (in every
    /// mode: an executable that is not one is a set-up error). An embedded mode whose Python is not
    /// the one this binary embeds (another version or build, another standard library or
    /// libpython: `embedded::not_embeddable`) falls back to the subprocess engine, with a warning.
    pub fn prepare(config: RunConfig) -> Result<Engines, EngineError> {
        let mut config = config;
        let facts = probe(&config.python)?;
        if !config.mode.is_embedded() {
            return Ok(Engines { config, zygote: None, fallback: None });
        }
        if let Some(why) = embedded::not_embeddable(&config.python, &facts) {
            config.mode = Mode::Subprocess;
            let warning = format!("{why}: using --mode subprocess");
            return Ok(Engines { config, zygote: None, fallback: Some(warning) });
        }
        let zygote = Zygotes::start(&config, &facts)?;
        Ok(Engines { config, zygote: Some(zygote), fallback: None })
    }

    /// The configuration programs run under (its mode the one they actually run in).
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The mode programs actually run in.
    pub fn mode(&self) -> Mode {
        self.config.mode
    }

    /// Why the requested embedded mode was replaced by the subprocess engine, if it was.
    pub fn fallback_warning(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The zygote the embedded modes use now.
    pub fn zygote(&self) -> Option<Arc<Zygote>> {
        self.zygote.as_ref().map(|z| z.current())
    }

    /// An engine for one thread.
    pub fn engine(&self) -> Engine {
        match &self.zygote {
            Some(z) => Engine::Embedded(EmbeddedEngine::new(self.config.clone(), Arc::clone(z))),
            None => Engine::Subprocess(SubprocessEngine::new(self.config.clone())),
        }
    }
}

/// One thread's engine.
pub enum Engine {
    /// `python /abs/prog.py`.
    Subprocess(SubprocessEngine),
    /// Forked executors of the shared zygote.
    Embedded(EmbeddedEngine),
}

impl Engine {
    /// Runs one program and returns what it did.
    pub fn run(&mut self, spec: &ProgramSpec) -> Result<RunResult, EngineError> {
        match self {
            Engine::Subprocess(e) => e.run(spec),
            Engine::Embedded(e) => e.run(spec),
        }
    }

    /// The next program runs in a fresh executor (a retry must not meet what the failure left).
    pub fn fresh_executor_next(&mut self) {
        if let Engine::Embedded(e) = self {
            e.fresh_executor_next();
        }
    }
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
        attempts: Vec::new(),
        program_time: None,
    }
}
