//! What running one program produced. The first four fields are torchfuzz's `run_and_validate`
//! dictionary, with the same names; the rest say how and where the program ran.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::config::Mode;
use crate::outcome::{EngineFailure, Outcome};

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
    /// The earlier runs of this program that this result replaced, oldest first. In JSON: a warm
    /// executor's failure checked in a fresh executor is `confirmed` (and `warm_attempt` when the
    /// fresh executor did not reproduce it), the names they always had; an embedded run the engine
    /// could not finish, replaced by `python /abs/prog.py`, is `fallback`; the failed runs that
    /// `--retries` ran again are `retries` (their results, oldest first).
    #[serde(flatten, with = "attempts_json")]
    pub attempts: Vec<Attempt>,
    /// Embedded modes: seconds from the program's first line to the end of its finalisation, as the
    /// executor measured them (`duration` minus this is runner's overhead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_time: Option<f64>,
}

/// An earlier run of a program, which the result that holds it replaced.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    /// The program failed in a warm executor that had run other programs before it, so it was run
    /// again in a fresh executor, whose run is the result (earlier programs' leftovers may have caused
    /// the failure).
    WarmExecutor {
        /// Whether the fresh executor gave the same returncode, stdout and stderr.
        reproduced: bool,
        /// The warm executor's result, kept when the fresh executor did not reproduce it.
        result: Option<Box<RunResult>>,
    },
    /// The embedded engine could not give the program a result of its own (runner's code in the
    /// executor failed, or the program broke the executor's channel or killed its parent), so the
    /// program was run again as `python /abs/prog.py`, whose run is the result: the design's
    /// subprocess fallback. A hostile program makes runner slower, never wrong.
    Fallback {
        /// The mode the program was run in first.
        from: Mode,
        /// Why that run gave no result.
        failure: EngineFailure,
    },
    /// A failed run that `--retries` ran again (in a fresh executor); the result holding it is the
    /// run after the last retry.
    Retry {
        /// What the failed run gave.
        result: Box<RunResult>,
    },
}

impl RunResult {
    /// How the program ended, as a type.
    pub fn outcome(&self) -> Outcome {
        Outcome::of_returncode(self.returncode, self.timed_out)
    }

    /// Warm mode, for a failure that was run again in a fresh executor: whether that reproduced it.
    pub fn confirmed(&self) -> Option<bool> {
        self.attempts.iter().find_map(|a| match a {
            Attempt::WarmExecutor { reproduced, .. } => Some(*reproduced),
            Attempt::Fallback { .. } | Attempt::Retry { .. } => None,
        })
    }

    /// The warm executor's result of a failure that a fresh executor did not reproduce.
    pub fn warm_attempt(&self) -> Option<&RunResult> {
        self.attempts.iter().find_map(|a| match a {
            Attempt::WarmExecutor { result, .. } => result.as_deref(),
            Attempt::Fallback { .. } | Attempt::Retry { .. } => None,
        })
    }

    /// Why the embedded engine handed this program to `python /abs/prog.py`, if it did.
    pub fn fallback(&self) -> Option<&EngineFailure> {
        self.attempts.iter().find_map(|a| match a {
            Attempt::Fallback { failure, .. } => Some(failure),
            Attempt::WarmExecutor { .. } | Attempt::Retry { .. } => None,
        })
    }

    /// The failed runs `--retries` ran again, oldest first.
    pub fn retries(&self) -> impl Iterator<Item = &RunResult> {
        self.attempts.iter().filter_map(|a| match a {
            Attempt::Retry { result } => Some(&**result),
            _ => None,
        })
    }
}

/// The JSON form of [`RunResult::attempts`]: the field names results have always had.
mod attempts_json {
    use super::{Attempt, EngineFailure, Mode, RunResult};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// `fallback`: the run the engine could not finish.
    #[derive(Serialize, Deserialize)]
    struct Fallback {
        from: Mode,
        engine_failure: EngineFailure,
    }

    #[derive(Serialize, Deserialize)]
    #[serde(bound(deserialize = "R: Deserialize<'de>"))]
    struct Fields<R> {
        /// Warm mode only, for a failure: `true` when a fresh executor gave the same result, `false`
        /// when it did not (then `warm_attempt` holds the first result).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirmed: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warm_attempt: Option<R>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<Fallback>,
        #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
        retries: Vec<R>,
    }

    pub fn serialize<S: Serializer>(attempts: &[Attempt], s: S) -> Result<S::Ok, S::Error> {
        let mut fields: Fields<&RunResult> =
            Fields { confirmed: None, warm_attempt: None, fallback: None, retries: Vec::new() };
        for attempt in attempts {
            match attempt {
                Attempt::WarmExecutor { reproduced, result } => {
                    fields.confirmed = Some(*reproduced);
                    fields.warm_attempt = result.as_deref();
                }
                Attempt::Fallback { from, failure } => {
                    fields.fallback = Some(Fallback { from: *from, engine_failure: failure.clone() });
                }
                Attempt::Retry { result } => fields.retries.push(result),
            }
        }
        fields.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Attempt>, D::Error> {
        let fields: Fields<Box<RunResult>> = Fields::deserialize(d)?;
        let warm = fields
            .confirmed
            .map(|reproduced| Attempt::WarmExecutor { reproduced, result: fields.warm_attempt });
        let fallback = fields.fallback.map(|f| Attempt::Fallback { from: f.from, failure: f.engine_failure });
        let retries = fields.retries.into_iter().map(|result| Attempt::Retry { result });
        Ok(warm.into_iter().chain(fallback).chain(retries).collect())
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
            attempts: Vec::new(),
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
        assert!(v.get("confirmed").is_none() && v.get("warm_attempt").is_none(), "{v}");
    }

    #[test]
    fn a_warm_confirmation_keeps_its_field_names_and_reads_back() {
        let fresh = |stdout: &str| RunResult {
            success: false,
            stdout: stdout.into(),
            stderr: String::new(),
            returncode: 1,
            program: "/p.py".into(),
            mode: Mode::Warm,
            device: None,
            duration: 0.5,
            timed_out: false,
            truncated: Truncated::default(),
            leaked_pipes: false,
            attempts: Vec::new(),
            program_time: None,
        };
        let mut confirmed = fresh("same");
        confirmed.attempts.push(Attempt::WarmExecutor { reproduced: true, result: None });
        let v = serde_json::to_value(&confirmed).unwrap();
        assert_eq!(v["confirmed"], true);
        assert!(v.get("warm_attempt").is_none(), "{v}");
        assert_eq!(serde_json::from_value::<RunResult>(v).unwrap(), confirmed);

        let mut unconfirmed = fresh("fresh");
        let first = Box::new(fresh("warm"));
        unconfirmed.attempts.push(Attempt::WarmExecutor { reproduced: false, result: Some(first) });
        let v = serde_json::to_value(&unconfirmed).unwrap();
        assert_eq!(
            (&v["confirmed"], &v["warm_attempt"]["stdout"]),
            (&serde_json::json!(false), &serde_json::json!("warm"))
        );
        let back = serde_json::from_value::<RunResult>(v).unwrap();
        assert_eq!(
            (back.confirmed(), back.warm_attempt().map(|r| r.stdout.as_str())),
            (Some(false), Some("warm"))
        );
        assert_eq!(back, unconfirmed);
    }
}
