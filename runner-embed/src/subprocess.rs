//! The subprocess engine: `<python> /abs/prog.py [args]` in a fresh process, exactly what torchfuzz's
//! ProgramRunner does. It is the reference every embedded mode is compared with, and the fallback where
//! embedding cannot serve.
//!
//! python gets stdin from /dev/null, the runner's cwd and environment plus the spec's variables, and
//! its own process group, so a timeout or a pipe leak can kill everything it started. Its parent is a
//! nanny ([`crate::nanny`]), not the runner: what a program does to its parent does not reach the
//! runner, and the nanny reports python's pid and exit status (or, if the program killed the nanny,
//! the runner, a child subreaper, adopts python and reads its status itself).

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use runner_core::exit::ExitStatus;
use runner_core::{Mode, ProgramSpec, RunConfig, RunResult};

use crate::nanny::{self, Report};
use crate::supervise::{supervise, Limits, Watched};
use crate::{unix, EngineError};

/// Runs programs as `python /abs/prog.py`.
#[derive(Clone, Debug)]
pub struct SubprocessEngine {
    config: RunConfig,
}

/// python under its nanny, as the supervision loop watches it.
struct NannyUnit {
    nanny: Child,
    python: i32,
    /// python's pidfd; `None` when python had already ended and been reaped by its nanny when the
    /// runner came to open it (a short program on a busy machine): its status is on the report.
    pidfd: Option<OwnedFd>,
    /// The nanny's report (non-blocking); `None` once it has ended.
    report: Option<OwnedFd>,
    /// The program's cgroup (python, the nanny, all they start), where cgroups are available.
    cgroup: Option<crate::cgroup::Cgroup>,
}

impl NannyUnit {
    /// The next record of the report, if one is there; `Ok(None)` at its end (the nanny is gone).
    fn next_report(&mut self) -> io::Result<Option<Option<Report>>> {
        let Some(fd) = &self.report else { return Ok(None) };
        let mut record = [0u8; 8];
        match nix::unistd::read(fd.as_fd(), &mut record) {
            Ok(8) => Ok(Some(Report::decode(record))),
            // A record is written whole (8 bytes into a pipe are atomic); less is the end.
            Ok(_) => {
                self.report = None;
                Ok(None)
            }
            Err(nix::errno::Errno::EAGAIN) => Ok(Some(None)),
            Err(e) => Err(e.into()),
        }
    }
}

impl NannyUnit {
    /// Whether python has ended.
    fn python_ended(&self) -> bool {
        self.pidfd.as_ref().is_none_or(|p| readable(p.as_fd()))
    }
}

impl Watched for NannyUnit {
    fn exit_fds(&self) -> Vec<BorrowedFd<'_>> {
        let mut fds: Vec<BorrowedFd<'_>> = self.pidfd.iter().map(|p| p.as_fd()).collect();
        fds.extend(self.report.as_ref().map(|r| r.as_fd()));
        fds
    }

    fn poll_exit(&mut self) -> io::Result<Option<i32>> {
        loop {
            match self.next_report()? {
                Some(Some(Report::Status(status))) => {
                    return Ok(Some(ExitStatus::from_wait_status(status).returncode()))
                }
                Some(Some(_)) => continue,
                Some(None) => break,
                None => {
                    // The nanny is gone before python's end was reported: killed by the program. python,
                    // if it lives on, is the runner's child now (a subreaper), and its status ours to read.
                    if !self.python_ended() {
                        return Ok(None);
                    }
                    return match waitpid(
                        Pid::from_raw(self.python),
                        Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
                    ) {
                        Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                            Ok(Some(ExitStatus::from_wait_status(unix::raw_wait_status(status)).returncode()))
                        }
                        // Reaped by the nanny just before it was killed: its status is lost with it.
                        _ => Ok(Some(-libc::SIGKILL)),
                    };
                }
            }
        }
        if self.python_ended() {
            // python has ended and its nanny has not said so yet: about to, or stopped by the program
            // (SIGSTOP to its parent), which only a SIGCONT undoes.
            if unix::is_stopped(self.nanny.id() as i32) {
                let _ = nix::sys::signal::kill(
                    Pid::from_raw(self.nanny.id() as i32),
                    nix::sys::signal::Signal::SIGCONT,
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(None)
    }

    fn kill(&mut self) {
        // python itself too: a program that moved to another process group is still python.
        unix::kill_group(self.python as u32);
        let _ = nix::sys::signal::kill(Pid::from_raw(self.python), nix::sys::signal::Signal::SIGKILL);
        if let Some(cgroup) = &self.cgroup {
            cgroup.kill_all();
        }
    }

    fn kill_leftovers(&mut self) {
        unix::kill_group(self.python as u32);
        if let Some(cgroup) = &self.cgroup {
            cgroup.kill_all();
        }
    }
}

/// A pidfd of `pid`, or `None` when it is gone already: python that ended and was reaped by its
/// nanny before the runner came to watch it (a short program on a busy machine), whose status the
/// nanny reports.
fn watch(pid: i32) -> io::Result<Option<OwnedFd>> {
    match unix::pidfd_open(pid as u32) {
        Ok(pidfd) => Ok(Some(pidfd)),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(None),
        Err(e) => Err(e),
    }
}

fn readable(fd: BorrowedFd<'_>) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
}

impl SubprocessEngine {
    /// An engine that runs programs under `config.python`.
    pub fn new(config: RunConfig) -> Self {
        SubprocessEngine { config }
    }

    /// Runs one program to completion and returns what it did.
    pub fn run(&self, spec: &ProgramSpec) -> Result<RunResult, EngineError> {
        static SUBREAPER: std::sync::Once = std::sync::Once::new();
        SUBREAPER.call_once(unix::become_subreaper);
        let spawn_error = |source| EngineError::Spawn { python: self.config.python.clone(), source };
        let mut cmd = unix::own_binary().map_err(spawn_error)?;
        let (report, report_w) = unix::pipe().map_err(EngineError::Supervise)?;
        let mut args: Vec<OsString> = vec![spec.path.as_os_str().to_owned()];
        args.extend(spec.args.iter().map(OsString::from));
        // The program's cgroup, where cgroups are available: what it starts is found there, even in
        // another session.
        static PROGRAMS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = PROGRAMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cgroup = crate::cgroup::Cgroup::new(&format!("p{n}"));
        cmd.args(nanny::arguments(&self.config.python, &args, cgroup.as_ref().map(|c| c.path())))
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let report_raw = report_w.as_raw_fd();
        // SAFETY: only async-signal-safe calls between fork and exec: dup2 (which clears close-on-exec
        // on the copy).
        unsafe {
            cmd.pre_exec(move || unix::dup2_raw(report_raw, nanny::REPORT_FD));
        }
        let start = Instant::now();
        let mut child = spawn_retrying(&mut cmd).map_err(spawn_error)?;
        drop(report_w);
        let stdout: OwnedFd = child.stdout.take().expect("piped stdout").into();
        let stderr: OwnedFd = child.stderr.take().expect("piped stderr").into();
        let next_report = || {
            let mut record = [0u8; 8];
            nanny::read_exact(report.as_fd(), &mut record).then(|| Report::decode(record)).flatten()
        };
        // python's pid comes first, before python may run (the nanny holds it until then); then
        // whether it could be executed.
        let python = match next_report() {
            Some(Report::Pid(pid)) => pid,
            Some(Report::ExecFailed(errno)) => {
                let _ = child.wait();
                return Err(spawn_error(io::Error::from_raw_os_error(errno)));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(spawn_error(io::Error::other("the nanny that starts python died")));
            }
        };
        // Started, or the report's end before it (the nanny was killed, by python: the program's
        // first act; python is then the runner's child to watch and reap), or this.
        if let Some(Report::ExecFailed(errno)) = next_report() {
            let _ = child.wait();
            return Err(spawn_error(io::Error::from_raw_os_error(errno)));
        }
        unix::track_group(python as u32);
        unix::set_nonblocking(report.as_fd()).map_err(EngineError::Supervise)?;
        let pidfd = match watch(python) {
            Ok(pidfd) => pidfd,
            Err(e) => {
                unix::kill_group(python as u32);
                let _ = child.kill();
                let _ = child.wait();
                unix::untrack_group(python as u32);
                return Err(EngineError::Supervise(e));
            }
        };
        let mut unit = NannyUnit { nanny: child, python, pidfd, report: Some(report), cgroup };
        let limits = Limits {
            timeout: spec.timeout.or(self.config.timeout),
            max_output: self.config.max_output,
            leak_grace: self.config.leak_grace,
        };
        let outcome = supervise(&mut unit, stdout, stderr, limits, start);
        // Whatever happened, nothing the program started outlives its run.
        unit.kill();
        unix::untrack_group(python as u32);
        let outcome = outcome.map_err(EngineError::Supervise)?;
        retire_nanny(&mut unit.nanny);
        Ok(crate::result_from(spec, Mode::Subprocess, outcome))
    }
}

/// Lets the nanny reap what is left and exit; one that does not within a moment is killed.
fn retire_nanny(nanny: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if nanny.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = nanny.kill();
    let _ = nanny.wait();
}

/// Spawns `cmd`, tried again while the process table or memory is full for a moment (EAGAIN, ENOMEM):
/// a fork bomb next door must not cost a program its result. Gives up after about a minute.
fn spawn_retrying(cmd: &mut Command) -> io::Result<Child> {
    let mut pause = Duration::from_millis(5);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match cmd.spawn() {
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::ENOMEM))
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_already_reaped_is_watched_through_the_nanny_s_report() {
        // A process that is gone (reaped) has no pidfd: that is not an error.
        let mut gone = Command::new("true").spawn().unwrap();
        let pid = gone.id() as i32;
        gone.wait().unwrap();
        assert!(watch(pid).unwrap().is_none());
        let mut live = Command::new("sleep").arg("5").spawn().unwrap();
        assert!(watch(live.id() as i32).unwrap().is_some());
        let _ = live.kill();
        let _ = live.wait();

        // Without a pidfd, python's status comes from the report; the nanny's end follows it.
        let (report, report_w) = unix::pipe().unwrap();
        nix::unistd::write(&report_w, &Report::Status(3 << 8).encode()).unwrap();
        drop(report_w);
        unix::set_nonblocking(report.as_fd()).unwrap();
        let nanny = Command::new("true").spawn().unwrap();
        let mut unit = NannyUnit { nanny, python: pid, pidfd: None, report: Some(report), cgroup: None };
        assert_eq!(unit.exit_fds().len(), 1, "the report alone");
        assert_eq!(unit.poll_exit().unwrap(), Some(3));
        let _ = unit.nanny.wait();
    }
}
