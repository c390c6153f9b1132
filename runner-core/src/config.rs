//! The validated configuration of a run: which engine, which Python, limits and seeds. The CLI builds
//! it from flags after checking them; engines take it as it is and never see flags.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Default cap on captured bytes per stream.
pub const DEFAULT_MAX_OUTPUT: u64 = 64 * 1024 * 1024;

/// Default limit on the embedded engine's start (the interpreter and the preloads): far above what
/// importing the compiler stack takes from source (15 s on the GPU machine), short enough that a
/// preload that hangs is reported.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(300);

/// Which engine runs programs. The one spelling of the modes: the command line (`--mode`, `--modes`,
/// through the `clap` feature), results (serde) and the fuzzer's oracle all use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Executors forked from a warm zygote run programs back to back, with state restored between them.
    Warm,
    /// A fresh executor forked from the zygote for every program.
    Fork,
    /// `python /abs/prog.py` in a fresh process: the reference and the fallback.
    Subprocess,
}

impl Mode {
    /// Every mode, in the order `runner bench` shows them by default.
    pub const ALL: [Mode; 3] = [Mode::Subprocess, Mode::Fork, Mode::Warm];

    /// The mode of a command-line or results name (`warm`, `fork`, `subprocess`).
    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// The name used on the command line and in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Warm => "warm",
            Mode::Fork => "fork",
            Mode::Subprocess => "subprocess",
        }
    }

    /// Whether this mode runs programs inside an embedded interpreter.
    pub fn is_embedded(self) -> bool {
        !matches!(self, Mode::Subprocess)
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything an engine needs to know to run programs; built and validated by the front end.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The engine.
    pub mode: Mode,
    /// The Python interpreter programs run under (absolute path of its executable).
    pub python: PathBuf,
    /// Per-program wall-clock limit.
    pub timeout: Option<Duration>,
    /// Cap on captured bytes per stream.
    pub max_output: u64,
    /// How long to wait, after a program exits, for processes it started to release its output pipes.
    pub leak_grace: Duration,
    /// Modules the embedded engines import once before forking executors.
    pub preload: Vec<String>,
    /// How long the embedded engine's start (interpreter and preloads) may take; past it the worker
    /// is killed and the start is a set-up error.
    pub startup_timeout: Duration,
    /// Where the embedded engines keep the preloads' bytecode when the interpreter would write none
    /// (PYTHONDONTWRITEBYTECODE, -B); `None`: the preloads are compiled from source, as python does.
    pub bytecode_cache: Option<PathBuf>,
    /// Programs an executor runs in warm mode before it is replaced (`None`: no limit).
    pub max_programs_per_executor: Option<u32>,
    /// Seed for every random choice the runner makes (devices).
    pub seed: Option<u64>,
}

impl RunConfig {
    /// A configuration with the defaults for everything but the mode and the Python.
    pub fn new(mode: Mode, python: PathBuf) -> Self {
        RunConfig {
            mode,
            python,
            timeout: None,
            max_output: DEFAULT_MAX_OUTPUT,
            leak_grace: Duration::from_millis(500),
            preload: Vec::new(),
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            bytecode_cache: None,
            max_programs_per_executor: None,
            seed: None,
        }
    }
}
