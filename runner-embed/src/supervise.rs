//! The supervision loop shared by every engine: one `poll` over the program's two output pipes and an
//! "exit" descriptor, with the timeout and the pipe-leak grace as deadlines.
//!
//! Output is drained as it arrives (no pipe deadlock at any size) into buffers capped per stream; what
//! goes past the cap is read and dropped so the program never blocks on a full pipe. When the timeout
//! passes, the watched unit's process group is killed. When the unit has exited but something it
//! started still holds the pipes open, the loop waits `leak_grace`, kills the leftovers, and after a
//! second grace gives up on the pipes: the runner never hangs on a leaked descriptor. How an exit is
//! observed and what "kill" means is the engine's business ([`Watched`]); this module only owns the loop.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use runner_core::Truncated;

use crate::unix;

/// A running unit whose exit and output the loop watches.
pub(crate) trait Watched {
    /// Descriptors that become readable (or hang up) when the unit may have finished.
    fn exit_fds(&self) -> Vec<BorrowedFd<'_>>;
    /// Called when one of [`Watched::exit_fds`] is ready: `Some(returncode)` once the unit has finished.
    fn poll_exit(&mut self) -> io::Result<Option<i32>>;
    /// Kills the unit and everything in its process group (timeout).
    fn kill(&mut self);
    /// Kills what the finished unit left behind holding its output (pipe leak).
    fn kill_leftovers(&mut self);
}

/// What the loop saw.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub truncated: Truncated,
    pub returncode: i32,
    pub timed_out: bool,
    pub leaked_pipes: bool,
    pub duration: Duration,
}

/// Limits for one supervised run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub timeout: Option<Duration>,
    pub max_output: u64,
    pub leak_grace: Duration,
}

struct Stream {
    fd: Option<OwnedFd>,
    buf: Vec<u8>,
    truncated: bool,
}

impl Stream {
    fn new(fd: OwnedFd) -> io::Result<Self> {
        unix::set_nonblocking(fd.as_fd())?;
        Ok(Stream { fd: Some(fd), buf: Vec::new(), truncated: false })
    }

    /// Reads everything available now; closes the stream at end of file.
    fn drain(&mut self, cap: u64, chunk: &mut [u8]) -> io::Result<()> {
        let Some(fd) = &self.fd else { return Ok(()) };
        loop {
            match nix::unistd::read(fd.as_fd(), chunk).map_err(io::Error::from) {
                Ok(0) => {
                    self.fd = None;
                    return Ok(());
                }
                Ok(n) => {
                    let room = (cap as usize).saturating_sub(self.buf.len());
                    if n > room {
                        self.truncated = true;
                    }
                    self.buf.extend_from_slice(&chunk[..n.min(room)]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Runs the loop until the unit has finished and its output is closed (or given up on).
pub(crate) fn supervise(
    unit: &mut dyn Watched,
    stdout: OwnedFd,
    stderr: OwnedFd,
    limits: Limits,
    start: Instant,
) -> io::Result<Outcome> {
    let mut streams = [Stream::new(stdout)?, Stream::new(stderr)?];
    let mut chunk = vec![0u8; 64 * 1024];
    let deadline = limits.timeout.map(|t| start + t);
    let mut returncode: Option<i32> = None;
    let mut exited_at: Option<Instant> = None;
    let mut timed_out = false;
    let mut leaked = false;
    let mut abandon_at: Option<Instant> = None;

    loop {
        let open = streams.iter().any(|s| s.fd.is_some());
        if returncode.is_some() && !open {
            break;
        }
        let now = Instant::now();
        if let (Some(_), Some(at)) = (returncode, abandon_at) {
            if now >= at {
                // Something outside the group (setsid) still holds the pipes: stop reading them.
                break;
            }
        }

        // The next deadline the loop must wake for.
        let mut wake: Option<Instant> = None;
        let mut wake_at = |t: Instant| wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
        if let (Some(d), false) = (deadline, timed_out) {
            wake_at(d);
        }
        if let (Some(at), false) = (exited_at, leaked) {
            wake_at(at + limits.leak_grace);
        }
        if let Some(at) = abandon_at {
            wake_at(at);
        }
        let timeout = match wake {
            None => PollTimeout::NONE,
            Some(t) => {
                let ms = t.saturating_duration_since(now).as_millis().min(i32::MAX as u128);
                // Round up so the loop does not spin on a sub-millisecond remainder.
                PollTimeout::try_from((ms as i32).saturating_add(1)).unwrap_or(PollTimeout::MAX)
            }
        };

        let (ready, exit_ready) = {
            let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(3);
            let mut which: Vec<usize> = Vec::with_capacity(3);
            for (i, s) in streams.iter().enumerate() {
                if let Some(fd) = &s.fd {
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                    which.push(i);
                }
            }
            let first_exit = fds.len();
            if returncode.is_none() {
                fds.extend(unit.exit_fds().into_iter().map(|fd| PollFd::new(fd, PollFlags::POLLIN)));
            }
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let is_ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
            let ready: Vec<usize> =
                which.iter().enumerate().filter(|(k, _)| is_ready(&fds[*k])).map(|(_, &i)| i).collect();
            (ready, fds[first_exit..].iter().any(is_ready))
        };

        for i in ready {
            streams[i].drain(limits.max_output, &mut chunk)?;
        }
        if exit_ready {
            if let Some(rc) = unit.poll_exit()? {
                returncode = Some(rc);
                exited_at = Some(Instant::now());
            }
        }

        let now = Instant::now();
        if !timed_out && returncode.is_none() && deadline.is_some_and(|d| now >= d) {
            unit.kill();
            timed_out = true;
        }
        if !leaked && streams.iter().any(|s| s.fd.is_some()) {
            if let Some(at) = exited_at {
                if now >= at + limits.leak_grace {
                    unit.kill_leftovers();
                    // Whatever escaped the process group (setsid) but still holds the output goes too.
                    let open: Vec<BorrowedFd<'_>> =
                        streams.iter().filter_map(|s| s.fd.as_ref().map(|fd| fd.as_fd())).collect();
                    unix::kill_pipe_holders(&open);
                    leaked = true;
                    abandon_at = Some(now + limits.leak_grace);
                }
            }
        }
    }

    let [out, err] = streams;
    Ok(Outcome {
        truncated: Truncated { stdout: out.truncated, stderr: err.truncated },
        stdout: out.buf,
        stderr: err.buf,
        returncode: returncode.unwrap_or(-libc::SIGKILL),
        timed_out,
        leaked_pipes: leaked,
        duration: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    //! The loop against a fake unit: its "exit" is a pipe the test writes a returncode to, and its
    //! output pipes are written by the test, so every deadline and every kill is observable.

    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    /// A unit that exits when a returncode arrives on its exit pipe.
    struct Fake {
        exit_r: OwnedFd,
        exit_w: Option<std::fs::File>,
        /// The unit's ends of its output pipes, dropped by `kill_leftovers` (its leftovers dying).
        outputs: Vec<OwnedFd>,
        kills: usize,
        leftover_kills: usize,
    }

    impl Fake {
        fn new() -> Self {
            let (exit_r, exit_w) = unix::pipe().unwrap();
            Fake { exit_r, exit_w: Some(exit_w.into()), outputs: Vec::new(), kills: 0, leftover_kills: 0 }
        }

        fn exit(&mut self, code: i32) {
            let mut w = self.exit_w.take().expect("exits once");
            w.write_all(&code.to_le_bytes()).unwrap();
        }
    }

    impl Watched for Fake {
        fn exit_fds(&self) -> Vec<BorrowedFd<'_>> {
            vec![self.exit_r.as_fd()]
        }

        fn poll_exit(&mut self) -> io::Result<Option<i32>> {
            let mut buf = [0u8; 4];
            match nix::unistd::read(self.exit_r.as_fd(), &mut buf) {
                Ok(4) => Ok(Some(i32::from_le_bytes(buf))),
                Ok(_) => Ok(None),
                Err(e) => Err(e.into()),
            }
        }

        fn kill(&mut self) {
            self.kills += 1;
            self.outputs.clear();
            self.exit(-libc::SIGKILL);
        }

        fn kill_leftovers(&mut self) {
            self.leftover_kills += 1;
            self.outputs.clear();
        }
    }

    /// Limits in milliseconds.
    fn limits(timeout: Option<u64>, max_output: u64, leak_grace: u64) -> Limits {
        Limits {
            timeout: timeout.map(Duration::from_millis),
            max_output,
            leak_grace: Duration::from_millis(leak_grace),
        }
    }

    #[test]
    fn output_is_captured_and_capped_and_the_returncode_is_the_units() {
        let mut unit = Fake::new();
        let (out_r, out_w) = unix::pipe().unwrap();
        let (err_r, err_w) = unix::pipe().unwrap();
        let mut out_w = std::fs::File::from(out_w);
        // More than a pipe holds: the loop must drain while the unit writes.
        let writer = std::thread::spawn(move || out_w.write_all(&vec![b'x'; 200_000]).unwrap());
        let mut err_w = std::fs::File::from(err_w);
        err_w.write_all(b"boom").unwrap();
        drop(err_w);
        unit.exit(3);
        let handle = std::thread::spawn(move || {
            let o = supervise(&mut unit, out_r, err_r, limits(None, 1000, 30_000), Instant::now()).unwrap();
            (o, unit.kills, unit.leftover_kills)
        });
        writer.join().unwrap();
        let (o, kills, leftovers) = handle.join().unwrap();
        assert_eq!(o.returncode, 3);
        assert_eq!((o.stdout.len(), o.truncated.stdout), (1000, true));
        assert_eq!((o.stderr.as_slice(), o.truncated.stderr), (&b"boom"[..], false));
        assert!(!o.timed_out && !o.leaked_pipes);
        assert_eq!((kills, leftovers), (0, 0));
    }

    #[test]
    fn the_timeout_kills_the_unit_and_says_so() {
        let mut unit = Fake::new();
        let (out_r, out_w) = unix::pipe().unwrap();
        let (err_r, err_w) = unix::pipe().unwrap();
        unit.outputs = vec![out_w, err_w];
        let start = Instant::now();
        let o = supervise(&mut unit, out_r, err_r, limits(Some(100), 1000, 50), start).unwrap();
        assert!(o.timed_out);
        assert_eq!(o.returncode, -libc::SIGKILL);
        assert_eq!(unit.kills, 1);
        assert!(start.elapsed() >= Duration::from_millis(100), "not before the timeout");
    }

    #[test]
    fn output_held_open_after_the_exit_is_a_leak_whose_holders_are_killed() {
        let mut unit = Fake::new();
        let (out_r, out_w) = unix::pipe().unwrap();
        let (err_r, err_w) = unix::pipe().unwrap();
        // The unit has exited, but "something it started" still holds both pipes.
        unit.outputs = vec![out_w, err_w];
        unit.exit(0);
        let o = supervise(&mut unit, out_r, err_r, limits(Some(10_000), 1000, 50), Instant::now()).unwrap();
        assert_eq!(o.returncode, 0);
        assert!(o.leaked_pipes && !o.timed_out);
        assert_eq!((unit.kills, unit.leftover_kills), (0, 1));
    }

    #[test]
    fn pipes_that_outlive_the_kill_are_given_up_on() {
        // Held by something the leftover kill does not reach (setsid and a new session).
        let mut unit = Fake::new();
        let (out_r, out_w) = unix::pipe().unwrap();
        let (err_r, err_w) = unix::pipe().unwrap();
        unit.exit(0);
        let start = Instant::now();
        let o = supervise(&mut unit, out_r, err_r, limits(None, 1000, 50), start).unwrap();
        drop((out_w, err_w));
        assert!(o.leaked_pipes);
        assert_eq!(unit.leftover_kills, 1);
        assert!(start.elapsed() < Duration::from_secs(5), "the loop gave up after two graces");
    }
}
