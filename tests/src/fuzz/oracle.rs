//! The oracle: runs programs the reference way (`python /abs/prog.py`, stdin from /dev/null, in its
//! own process group) and through `runner batch --workers 1 --mode M` (one invocation for a whole
//! batch, so warm mode runs the programs back to back in shared executors), under one environment
//! that both get, and compares what they did. It knows nothing of generation or shrinking.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde::Serialize;

use super::grammar::{Gen, Template};
use super::FuzzError;
use crate::{returncode, text};

/// An engine mode of `runner`: runner-core's own, so the fuzzer spells the modes as runner does.
pub use runner_core::Mode;

/// What one run of a program did, as runner reports it (streams decoded with replacement, universal
/// newlines).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Exit code, or minus the signal number.
    pub returncode: i32,
    /// Everything written to fd 1.
    pub stdout: String,
    /// Everything written to fd 2.
    pub stderr: String,
    /// The timeout killed it.
    pub timed_out: bool,
}

/// The fields of two outcomes that differ: `returncode`, `stdout`, `stderr` (a timeout shows as a
/// returncode of -9).
pub fn differing_fields(expected: &Outcome, actual: &Outcome) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if expected.returncode != actual.returncode || expected.timed_out != actual.timed_out {
        fields.push("returncode");
    }
    if expected.stdout != actual.stdout {
        fields.push("stdout");
    }
    if expected.stderr != actual.stderr {
        fields.push("stderr");
    }
    fields
}

/// runner's record of one program of a batch.
#[derive(Clone, Debug)]
pub struct Record {
    /// The reported result.
    pub outcome: Outcome,
    /// Warm mode: the first attempt of a failure that a fresh executor did not reproduce (what the
    /// shared executor's leftover state made of the program).
    pub warm_attempt: Option<Outcome>,
    /// The whole JSONL record.
    pub raw: serde_json::Value,
}

impl Record {
    /// Every result runner produced for the program: the reported one, then the warm attempt.
    pub fn observed(&self) -> impl Iterator<Item = &Outcome> {
        std::iter::once(&self.outcome).chain(self.warm_attempt.as_ref())
    }
}

/// The environment and preloads of one batch: python and runner get exactly the same variables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// `PYTHONUNBUFFERED=1` (else unset): decides where fd-level writes land among prints.
    pub unbuffered: bool,
    /// `PYTHONHASHSEED` (else unset).
    pub hash_seed: Option<u32>,
    /// runner's `--preload` modules (empty: none).
    pub preload: Vec<&'static str>,
}

/// Variables removed from the inherited environment before [`Settings::env`] is applied: those the
/// settings decide, and those that would make python and runner see different things.
const CLEARED_VARIABLES: &[&str] =
    &["PYTHONUNBUFFERED", "PYTHONHASHSEED", "VIRTUAL_ENV", "CUDA_VISIBLE_DEVICES", "RUNNER_PYTHON"];

impl Settings {
    /// The settings of batch `batch` of campaign `seed`.
    pub fn choose(seed: u64, batch: u64, template: Template) -> Settings {
        let mut g = Gen::for_batch(seed, batch);
        let unbuffered = g.chance(0.5);
        match template {
            Template::Torch => Settings { unbuffered, hash_seed: None, preload: vec!["torch"] },
            Template::Semantics => {
                let hash_seed = match g.range(0, 4) {
                    0 => Some(0),
                    1 => Some(g.range(1, 4_000_000) as u32),
                    _ => None,
                };
                // Standard-library preloads only: a preload's import-time side effects happen in the
                // zygote (docs/differences.md, "Modules already imported"), and numpy's (warning
                // filters) are visible to every program.
                let preload = match g.weighted(&[11, 3, 2, 2]) {
                    0 => vec![],
                    1 => vec!["json"],
                    2 => vec!["json", "decimal", "fractions"],
                    _ => vec!["asyncio"],
                };
                Settings { unbuffered, hash_seed, preload }
            }
        }
    }

    /// The variables set on top of the cleaned environment.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if self.unbuffered {
            env.push(("PYTHONUNBUFFERED", "1".to_string()));
        }
        if let Some(seed) = self.hash_seed {
            env.push(("PYTHONHASHSEED", seed.to_string()));
        }
        env
    }

    /// `env -u ... VAR=value` for a shell command that reproduces these settings.
    pub fn env_prefix(&self) -> String {
        let mut out = String::from("env");
        for var in CLEARED_VARIABLES {
            out.push_str(" -u ");
            out.push_str(var);
        }
        for (k, v) in self.env() {
            let _ = write!(out, " {k}={v}");
        }
        out
    }

    /// A short label: `PYTHONUNBUFFERED=1, PYTHONHASHSEED=0, preload json`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = vec![if self.unbuffered {
            "PYTHONUNBUFFERED=1".to_string()
        } else {
            "PYTHONUNBUFFERED unset".to_string()
        }];
        if let Some(seed) = self.hash_seed {
            parts.push(format!("PYTHONHASHSEED={seed}"));
        }
        if self.preload.is_empty() {
            parts.push("no preload".to_string());
        } else {
            parts.push(format!("preload {}", self.preload.join(",")));
        }
        parts.join(", ")
    }
}

/// Runs programs under python and under runner.
pub struct Oracle {
    /// The reference interpreter (also given to runner as `--python`).
    pub python: PathBuf,
    /// The `runner` binary.
    pub runner: PathBuf,
    /// Per-program limit, for python and for runner (`--timeout`).
    pub timeout: Duration,
}

impl Oracle {
    /// A command with the batch's environment, run in `dir`.
    fn command(&self, program: &Path, settings: &Settings, dir: &Path) -> Command {
        // python starts with descriptors 0 to 2 only, as under ProgramRunner.
        crate::close_inherited_fds();
        let mut cmd = Command::new(program);
        for var in CLEARED_VARIABLES {
            cmd.env_remove(var);
        }
        cmd.envs(settings.env()).current_dir(dir);
        cmd
    }

    /// What `python /abs/prog.py` does (in the program's directory). With preloads, what it does when
    /// the program imports them first, which is what `--preload` promises (docs/differences.md,
    /// "Modules already imported"): for that run the program's first line, the generator's comment,
    /// becomes `__import__("m")` calls (line numbers stay, no name is bound), and is put back after.
    pub fn python(&self, program: &Path, settings: &Settings) -> Result<Outcome, FuzzError> {
        let dir = program.parent().expect("programs live in a directory");
        let mut cmd = self.command(&self.python, settings, dir);
        cmd.arg(program);
        let io = |what: String| move |source| FuzzError::Io { what, source };
        let original = if settings.preload.is_empty() {
            None
        } else {
            let source =
                std::fs::read_to_string(program).map_err(io(format!("reading {}", program.display())))?;
            match source.split_once('\n') {
                Some((first, rest)) if first.starts_with('#') => {
                    let imports: Vec<String> =
                        settings.preload.iter().map(|m| format!("__import__({m:?})")).collect();
                    std::fs::write(program, format!("{}\n{rest}", imports.join("; ")))
                        .map_err(io(format!("writing {}", program.display())))?;
                    Some(source)
                }
                _ => None,
            }
        };
        let result = finish(&mut cmd, self.timeout);
        if let Some(source) = original {
            std::fs::write(program, source).map_err(io(format!("restoring {}", program.display())))?;
        }
        let (output, timed_out) = result?;
        Ok(Outcome {
            returncode: if timed_out { -9 } else { returncode(&output) },
            stdout: text(&output.stdout),
            stderr: text(&output.stderr),
            timed_out,
        })
    }

    /// Runs `program` under python up to `tries` times, stopping at the first run that gives `actual`:
    /// whether one did, and how many runs that took.
    pub fn python_can_give(
        &self,
        program: &Path,
        settings: &Settings,
        actual: &Outcome,
        tries: u64,
    ) -> Result<(bool, u64), FuzzError> {
        for run in 1..=tries {
            if differing_fields(&self.python(program, settings)?, actual).is_empty() {
                return Ok((true, run));
            }
        }
        Ok((false, tries))
    }

    /// Runs `programs` (all in one directory, named so that their sorted order is the order wanted)
    /// as one `runner batch --workers 1 --mode M` in that directory; returns one record per program,
    /// in `programs`' order.
    pub fn runner_batch(
        &self,
        mode: Mode,
        programs: &[PathBuf],
        settings: &Settings,
    ) -> Result<Vec<Record>, FuzzError> {
        let dir = programs[0].parent().expect("programs live in a directory");
        let results = dir.join(format!(".results-{}.jsonl", mode.as_str()));
        let _ = std::fs::remove_file(&results);
        let mut cmd = self.command(&self.runner, settings, dir);
        cmd.args(["batch", "--quiet", "--workers", "1", "--mode", mode.as_str(), "--timeout"])
            .arg(self.timeout.as_secs().max(1).to_string())
            .arg("--python")
            .arg(&self.python);
        if !settings.preload.is_empty() {
            cmd.arg("--preload").arg(settings.preload.join(","));
        }
        cmd.arg("--output").arg(&results).args(programs);
        // runner enforces the per-program timeout itself; this only bounds a runner that hangs.
        let limit = self.timeout * (programs.len() as u32 + 2) + Duration::from_secs(60);
        let (output, timed_out) = finish(&mut cmd, limit)?;
        if timed_out || !matches!(output.status.code(), Some(0 | 1)) {
            return Err(FuzzError::Runner {
                status: if timed_out {
                    format!("no result within {limit:?}")
                } else {
                    output.status.to_string()
                },
                stderr: text(&output.stderr).trim_end().to_string(),
            });
        }
        let jsonl = std::fs::read_to_string(&results)
            .map_err(|source| FuzzError::Io { what: format!("reading {}", results.display()), source })?;
        let _ = std::fs::remove_file(&results);
        let mut by_program = HashMap::new();
        for line in jsonl.lines() {
            let raw: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                FuzzError::Results(format!("a JSONL line of runner batch is not JSON ({e}): {line}"))
            })?;
            let path = PathBuf::from(raw["program"].as_str().unwrap_or_default());
            let outcome = outcome_of(&raw)?;
            let warm_attempt = match raw.get("warm_attempt") {
                Some(v) if !v.is_null() => Some(outcome_of(v)?),
                _ => None,
            };
            by_program.insert(path, Record { outcome, warm_attempt, raw });
        }
        programs
            .iter()
            .map(|p| by_program.remove(p).ok_or_else(|| FuzzError::MissingResult(p.clone())))
            .collect()
    }
}

fn outcome_of(v: &serde_json::Value) -> Result<Outcome, FuzzError> {
    let field = |name: &str| {
        v[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| FuzzError::Results(format!("no string {name} in {v}")))
    };
    Ok(Outcome {
        returncode: v["returncode"]
            .as_i64()
            .ok_or_else(|| FuzzError::Results(format!("no returncode in {v}")))? as i32,
        stdout: field("stdout")?,
        stderr: field("stderr")?,
        timed_out: v["timed_out"].as_bool().unwrap_or(false),
    })
}

/// Runs `cmd` with stdin from /dev/null in its own process group and collects its output; after
/// `limit` kills the group and returns what it had written, with `true`.
fn finish(cmd: &mut Command, limit: Duration) -> Result<(Output, bool), FuzzError> {
    let what = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| FuzzError::Io { what: format!("starting {what}"), source })?;
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let (result, timed_out) = match rx.recv_timeout(limit) {
        Ok(result) => (result, false),
        Err(_) => {
            // The child is not reaped until wait_with_output returns, so its pid still names its
            // group; killing the group also closes the pipes its descendants held.
            // SAFETY: kill(2) takes plain integers and touches no memory of ours.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let result = rx.recv().expect("the waiting thread sends once");
            (result, true)
        }
    };
    let output = result.map_err(|source| FuzzError::Io { what: format!("waiting for {what}"), source })?;
    Ok((output, timed_out))
}

/// Core dumps off for everything the oracle starts (the crash exit forms would otherwise write
/// `core` files into the program directories on machines that keep them).
pub fn disable_core_dumps() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer; only the soft limit is lowered.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
            limit.rlim_cur = 0;
            libc::setrlimit(libc::RLIMIT_CORE, &limit);
        }
    }
}
