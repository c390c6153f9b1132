//! The subprocess engine: `<python> /abs/prog.py [args]` in a fresh process, exactly what torchfuzz's
//! ProgramRunner does. It is the reference every embedded mode is compared with, and the fallback where
//! embedding cannot serve.
//!
//! The child gets stdin from /dev/null, the runner's cwd and environment plus the spec's variables, and
//! its own process group, so a timeout or a pipe leak can kill everything it started.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use runner_core::{Mode, ProgramSpec, RunConfig, RunResult};

use crate::supervise::{supervise, Limits, Watched};
use crate::{unix, EngineError};

/// Runs programs as `python /abs/prog.py`.
#[derive(Clone, Debug)]
pub struct SubprocessEngine {
    config: RunConfig,
}

struct ChildUnit {
    child: Child,
    pidfd: OwnedFd,
}

impl Watched for ChildUnit {
    fn exit_fds(&self) -> Vec<BorrowedFd<'_>> {
        vec![self.pidfd.as_fd()]
    }

    fn poll_exit(&mut self) -> io::Result<Option<i32>> {
        Ok(self.child.try_wait()?.map(|status| match status.signal() {
            Some(sig) => -sig,
            None => status.code().unwrap_or(-1),
        }))
    }

    fn kill(&mut self) {
        unix::kill_group(self.child.id());
    }

    fn kill_leftovers(&mut self) {
        unix::kill_group(self.child.id());
    }
}

impl SubprocessEngine {
    /// An engine that runs programs under `config.python`.
    pub fn new(config: RunConfig) -> Self {
        SubprocessEngine { config }
    }

    /// Runs one program to completion and returns what it did.
    pub fn run(&self, spec: &ProgramSpec) -> Result<RunResult, EngineError> {
        let mut cmd = Command::new(&self.config.python);
        cmd.arg(&spec.path)
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: die_with_parent only calls prctl, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(unix::die_with_parent);
        }
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|source| EngineError::Spawn { python: self.config.python.clone(), source })?;
        let stdout: OwnedFd = child.stdout.take().expect("piped stdout").into();
        let stderr: OwnedFd = child.stderr.take().expect("piped stderr").into();
        unix::track_group(child.id());
        let pidfd = unix::pidfd_open(child.id()).map_err(EngineError::Supervise)?;
        let mut unit = ChildUnit { child, pidfd };
        let limits = Limits {
            timeout: spec.timeout.or(self.config.timeout),
            max_output: self.config.max_output,
            leak_grace: self.config.leak_grace,
        };
        let outcome = supervise(&mut unit, stdout, stderr, limits, start);
        // Whatever happened, nothing the program started outlives its run.
        unix::kill_group(unit.child.id());
        unix::untrack_group(unit.child.id());
        let outcome = outcome.map_err(EngineError::Supervise)?;
        if unit.child.try_wait().ok().flatten().is_none() {
            let _ = unit.child.kill();
            let _ = unit.child.wait();
        }
        Ok(crate::result_from(spec, Mode::Subprocess, outcome))
    }
}
