//! What running one program produced. The first four fields are torchfuzz's `run_and_validate`
//! dictionary, with the same names; the rest say how and where the program ran.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::config::Mode;
use crate::outcome::Outcome;

/// Which captured streams went past the output cap and lost their tail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncated {
    /// stdout went past the cap.
    pub stdout: bool,
    /// stderr went past the cap.
    pub stderr: bool,
}

impl Truncated {
    /// Whether either stream was truncated.
    pub fn any(self) -> bool {
        self.stdout || self.stderr
    }
}

/// The outcome of one program run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// `returncode == 0`, as `subprocess.run(check=True)` decides.
    pub success: bool,
    /// Everything the program wrote to fd 1, decoded as UTF-8 with replacement, universal newlines.
    pub stdout: String,
    /// Everything the program wrote to fd 2, decoded the same way.
    pub stderr: String,
    /// The exit code, or the negative signal number when a signal ended the program.
    pub returncode: i32,
    /// Absolute path of the program (`program`, and `program_bytes` for a path that is not UTF-8:
    /// [`crate::program_path`]).
    #[serde(flatten, with = "crate::program_path")]
    pub program: PathBuf,
    /// The engine that ran it.
    pub mode: Mode,
    /// The `CUDA_VISIBLE_DEVICES` value the program got, or `null` when none was chosen.
    pub device: Option<String>,
    /// Wall-clock seconds from start to the end of output.
    pub duration: f64,
    /// The timeout ended the program (its process group was killed).
    pub timed_out: bool,
    /// Streams cut at the output cap.
    pub truncated: Truncated,
    /// The program exited while processes it started still held its output open; they were killed.
    pub leaked_pipes: bool,
    /// Warm mode only, for a failure: `true` when a fresh executor gave the same result, `false` when
    /// it did not (then `warm_attempt` holds the first result: state left by earlier programs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<bool>,
    /// The first, warm-executor result of a failure that a fresh executor did not reproduce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_attempt: Option<Box<RunResult>>,
    /// Embedded modes: seconds from the program's first line to the end of its finalisation, as the
    /// executor measured them (`duration` minus this is runner's overhead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_time: Option<f64>,
}

impl RunResult {
    /// How the program ended, as a type.
    pub fn outcome(&self) -> Outcome {
        Outcome::of_returncode(self.returncode, self.timed_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_the_seed_keys_by_name() {
        let r = RunResult {
            success: false,
            stdout: "o".into(),
            stderr: "e".into(),
            returncode: -11,
            program: "/p.py".into(),
            mode: Mode::Subprocess,
            device: Some("1".into()),
            duration: 0.5,
            timed_out: false,
            truncated: Truncated::default(),
            leaked_pipes: false,
            confirmed: None,
            warm_attempt: None,
            program_time: None,
        };
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["success"], false);
        assert_eq!(v["stdout"], "o");
        assert_eq!(v["stderr"], "e");
        assert_eq!(v["returncode"], -11);
        assert_eq!(v["mode"], "subprocess");
        assert_eq!(r.outcome(), Outcome::Crashed { signal: 11 });
        assert_eq!(r.outcome().to_string(), "SIGSEGV");
    }
}
