//! What one program run is: the program's absolute path, its arguments, extra environment and timeout.
//! A spec is plain data; validation of the path happens where specs are built (the CLI's configuration).

use std::path::PathBuf;
use std::time::Duration;

/// One program to run, as `python <path> <args...>` would run it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// Absolute path of the program file.
    pub path: PathBuf,
    /// Arguments after the program path (`sys.argv[1:]`).
    pub args: Vec<String>,
    /// Environment variables set on top of the runner's own environment (the chosen device goes here).
    pub env: Vec<(String, String)>,
    /// Wall-clock limit; `None` means no limit, as in torchfuzz's ProgramRunner.
    pub timeout: Option<Duration>,
}

impl ProgramSpec {
    /// A spec with no arguments, no extra environment and no timeout.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ProgramSpec { path: path.into(), args: Vec::new(), env: Vec::new(), timeout: None }
    }

    /// The value this spec gives to `CUDA_VISIBLE_DEVICES`, if it sets one.
    pub fn device(&self) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == crate::device::CUDA_VISIBLE_DEVICES).map(|(_, v)| v.as_str())
    }
}
