//! How a program's run ended, as a type: what the program did ([`Outcome::Passed`], `Failed`,
//! `Crashed`, `TimedOut`) or that the engine could not give it a result at all
//! ([`Outcome::EngineFailed`]). An engine failure is never a program's returncode: the worker's own
//! exit codes, a dead zygote or a failed fork reach the user as what they are.

use serde::{Deserialize, Serialize};

/// What kind of engine failure ended a program's run without a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineFailureKind {
    /// The interpreter (subprocess mode) or the worker process could not be started.
    Spawn,
    /// The zygote is gone (killed, crashed, or its socket closed).
    ZygoteDied,
    /// The zygote could not fork an executor (the pid limit, memory).
    ForkFailed,
    /// The executor's own code failed around the program (set-up, bookkeeping, its protocol).
    ExecutorFailed,
    /// Talking to the worker failed (a broken socket, a malformed message).
    Protocol,
    /// The program broke the channel between its executor and runner: it closed or replaced the
    /// executor's socket, or wrote on it.
    Channel,
    /// The program killed its executor's parent, and the executor died with it.
    ParentKilled,
    /// Supervising the program failed (poll, read, wait).
    Supervise,
}

impl EngineFailureKind {
    /// The name used in results and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineFailureKind::Spawn => "spawn",
            EngineFailureKind::ZygoteDied => "zygote_died",
            EngineFailureKind::ForkFailed => "fork_failed",
            EngineFailureKind::ExecutorFailed => "executor_failed",
            EngineFailureKind::Protocol => "protocol",
            EngineFailureKind::Channel => "channel",
            EngineFailureKind::ParentKilled => "parent_killed",
            EngineFailureKind::Supervise => "supervise",
        }
    }
}

/// Why the engine could not produce a result for a program, with its own words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineFailure {
    /// What failed.
    pub kind: EngineFailureKind,
    /// What the engine said (for an executor failure, the traceback of runner's own code).
    pub message: String,
}

impl std::fmt::Display for EngineFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

/// How a program's run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status 0.
    Passed,
    /// A non-zero exit status.
    Failed {
        /// The exit status.
        code: i32,
    },
    /// Killed by a signal (not runner's timeout).
    Crashed {
        /// The signal number.
        signal: i32,
    },
    /// Killed by runner at the timeout.
    TimedOut,
    /// The engine could not run the program to a result.
    EngineFailed(EngineFailure),
}

impl Outcome {
    /// The outcome of a finished program from its returncode (negative: a signal) and whether the
    /// timeout ended it.
    pub fn of_returncode(returncode: i32, timed_out: bool) -> Outcome {
        if timed_out {
            Outcome::TimedOut
        } else if returncode == 0 {
            Outcome::Passed
        } else if returncode < 0 {
            Outcome::Crashed { signal: -returncode }
        } else {
            Outcome::Failed { code: returncode }
        }
    }

    /// Whether the program ran to exit status 0.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Passed)
    }
}

impl std::fmt::Display for Outcome {
    /// A short human description: `exit 0`, `exit 3`, `SIGSEGV`, `timed out`, `engine failed: ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Passed => f.write_str("exit 0"),
            Outcome::Failed { code } => write!(f, "exit {code}"),
            Outcome::Crashed { signal } => f.write_str(&crate::exit::signal_name(*signal)),
            Outcome::TimedOut => f.write_str("timed out"),
            Outcome::EngineFailed(failure) => write!(f, "engine failed: {failure}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returncodes_map_to_outcomes_as_subprocess_reports_them() {
        assert_eq!(Outcome::of_returncode(0, false), Outcome::Passed);
        assert_eq!(Outcome::of_returncode(3, false), Outcome::Failed { code: 3 });
        assert_eq!(Outcome::of_returncode(-11, false), Outcome::Crashed { signal: 11 });
        assert_eq!(Outcome::of_returncode(-9, true), Outcome::TimedOut);
        assert_eq!(Outcome::of_returncode(-11, false).to_string(), "SIGSEGV");
        assert_eq!(Outcome::of_returncode(2, false).to_string(), "exit 2");
    }

    #[test]
    fn engine_failures_serialise_by_name() {
        let f = EngineFailure { kind: EngineFailureKind::ZygoteDied, message: "gone".into() };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v, serde_json::json!({"kind": "zygote_died", "message": "gone"}));
        assert_eq!(Outcome::EngineFailed(f).to_string(), "engine failed: zygote_died: gone");
    }
}
