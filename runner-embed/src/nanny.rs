//! The subprocess engine's nanny: the parent of each `python /abs/prog.py` it runs. The runner binary
//! started with the hidden `__nanny` subcommand forks python, ignores every signal it can, reaps what
//! the program leaves, and reports python's pid and exit status on a pipe. A program that signals its
//! parent (`os.kill(os.getppid(), sig)`, `os.killpg` of its parent's group) reaches the nanny, not the
//! runner; one that kills the nanny outright loses it nothing either, since the runner is a child
//! subreaper: python becomes the runner's child and the runner reads its status itself.
//!
//! What the nanny does not touch is python's own start: its stdin, stdout and stderr are the ones the
//! runner gave the nanny, its environment and working directory are the runner's, and its signal
//! dispositions are what the runner itself inherited (a signal ignored by the runner's parent, as
//! `nohup` ignores SIGHUP, is ignored by python too), so python starts as it would from the runner's
//! parent.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::unix;

/// The hidden subcommand that makes the `runner` binary a nanny.
pub const NANNY_SUBCOMMAND: &str = "__nanny";

/// The descriptor on which a nanny finds the write end of its report pipe.
pub(crate) const REPORT_FD: RawFd = 3;

/// The signal a nanny gets when the runner dies (`PR_SET_PDEATHSIG`): it then kills python's
/// process group and exits. Sent by anything else (a program), it is ignored.
const RUNNER_GONE: i32 = libc::SIGUSR2;

/// One record of a nanny's report: 8 bytes, a tag and a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Report {
    /// python was forked with this pid (in a process group of its own).
    Pid(i32),
    /// python could not be executed: the errno.
    ExecFailed(i32),
    /// python ended with this raw wait status.
    Status(i32),
    /// python was executed (the value is 0): from here on it runs the program.
    Started(i32),
}

impl Report {
    pub(crate) fn encode(self) -> [u8; 8] {
        let (tag, value) = match self {
            Report::Pid(v) => (1u32, v),
            Report::ExecFailed(v) => (2, v),
            Report::Status(v) => (3, v),
            Report::Started(v) => (4, v),
        };
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&tag.to_le_bytes());
        out[4..].copy_from_slice(&value.to_le_bytes());
        out
    }

    /// Decodes one record; `None` for an unknown tag.
    pub(crate) fn decode(bytes: [u8; 8]) -> Option<Report> {
        let tag = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
        let value = i32::from_le_bytes(bytes[4..].try_into().expect("4 bytes"));
        match tag {
            1 => Some(Report::Pid(value)),
            2 => Some(Report::ExecFailed(value)),
            3 => Some(Report::Status(value)),
            4 => Some(Report::Started(value)),
            _ => None,
        }
    }
}

/// The arguments of `runner __nanny`: the runner's pid, the signals python starts with ignored
/// (comma-separated numbers, maybe none), the cgroup to move into before python starts (empty: none),
/// the interpreter, then its arguments.
pub(crate) fn arguments(
    python: &std::path::Path,
    args: &[OsString],
    cgroup: Option<&std::path::Path>,
) -> Vec<OsString> {
    let ignored: Vec<String> = unix::inherited_ignored().iter().map(i32::to_string).collect();
    let mut out = vec![
        OsString::from(NANNY_SUBCOMMAND),
        OsString::from(std::process::id().to_string()),
        OsString::from(ignored.join(",")),
        cgroup.map_or_else(OsString::new, |c| c.as_os_str().to_owned()),
        python.as_os_str().to_owned(),
    ];
    out.extend(args.iter().cloned());
    out
}

/// The runner's pid, kept for the RUNNER_GONE handler.
static RUNNER: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// python's process group, for the RUNNER_GONE handler.
static PYTHON: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn runner_gone(_: libc::c_int) {
    use std::sync::atomic::Ordering;
    // SAFETY: getppid, killpg and _exit are async-signal-safe.
    unsafe {
        if libc::getppid() != RUNNER.load(Ordering::Relaxed) {
            let python = PYTHON.load(Ordering::Relaxed);
            if python > 0 {
                libc::killpg(python, libc::SIGKILL);
            }
            libc::_exit(0);
        }
    }
}

/// Entry point of a nanny process; never returns.
pub fn main() -> ! {
    use std::sync::atomic::Ordering;
    // SAFETY: the runner placed the report pipe's write end on REPORT_FD before exec.
    let report = unsafe { OwnedFd::from_raw_fd(REPORT_FD) };
    let args: Vec<OsString> = std::env::args_os().skip(2).collect();
    let (Some(runner), Some(ignored), Some(cgroup), Some(python)) =
        (args.first(), args.get(1), args.get(2), args.get(3))
    else {
        eprintln!(
            "runner nanny: usage: runner {NANNY_SUBCOMMAND} <runner pid> <ignored signals> <cgroup> <python> [args]"
        );
        exit(2)
    };
    let runner: i32 = runner.to_str().and_then(|s| s.parse().ok()).unwrap_or(0);
    let ignored: Vec<i32> =
        ignored.to_str().unwrap_or("").split(',').filter_map(|s| s.parse().ok()).collect();
    RUNNER.store(runner, Ordering::Relaxed);
    // SAFETY: prctl and sigaction with plain values, before any other thread exists.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, RUNNER_GONE, 0, 0, 0);
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
    if nix::unistd::getppid().as_raw() != runner {
        exit(0);
    }
    // python starts in the program's cgroup, so that it and all it starts are there: forked into it
    // where the kernel can (clone3), else moved there before it execs. The nanny stays out: it is
    // not the program's, and moving a process costs what a hundred forks do.
    let cgroup_dir: Option<OwnedFd> = (!cgroup.is_empty())
        .then(|| {
            nix::fcntl::open(
                std::path::Path::new(cgroup),
                nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok()
        })
        .flatten();
    let procs = CString::new(std::path::Path::new(cgroup).join("cgroup.procs").as_os_str().as_bytes()).ok();
    let argv: Vec<CString> = args[3..]
        .iter()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_else(|_| CString::new("?").expect("no NUL")))
        .collect();
    let Ok((exec_r, exec_w)) = unix::pipe() else { exit(71) };
    // python waits at this gate until its pid is reported: a program that kills its parent at once
    // (`os.kill(os.getppid(), SIGKILL)`) cannot do it before the runner knows which process is python.
    let Ok((gate_r, gate_w)) = unix::pipe() else { exit(71) };
    // Every signal a program may send its parent is ignored from before python exists (python's child
    // sets its own dispositions before it execs).
    unix::ignore_signals();
    // SAFETY: installing a handler that only calls async-signal-safe functions.
    unsafe { libc::signal(RUNNER_GONE, runner_gone as *const () as libc::sighandler_t) };
    // SAFETY: the nanny is single-threaded; the child only makes plain system calls before execv
    // (open, write, setpgid, sigaction, sigprocmask, close, execv, _exit).
    let forked = unsafe {
        match &cgroup_dir {
            Some(dir) => unix::fork_into_cgroup(dir.as_fd()),
            None => unix::fork_retrying().map(|pid| (pid, true)),
        }
    };
    let (pid, in_cgroup) = forked.unwrap_or((-1, true));
    if pid == 0 {
        drop(exec_r);
        drop(gate_w);
        // SAFETY: see above.
        unsafe {
            // The gate opens with one byte; its end without one (the nanny died first) stops python.
            let mut go = 0u8;
            if libc::read(gate_r.as_raw_fd(), (&raw mut go).cast(), 1) != 1 {
                libc::_exit(127);
            }
            libc::close(gate_r.as_raw_fd());
            if let (false, Some(procs)) = (in_cgroup, &procs) {
                // "0" moves the writer itself.
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                }
            }
            libc::setpgid(0, 0);
            start_as_python_would(&ignored);
            libc::close(report.as_raw_fd());
            let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
            ptrs.push(std::ptr::null());
            libc::execv(ptrs[0], ptrs.as_ptr());
            let errno = io::Error::last_os_error().raw_os_error().unwrap_or(libc::ENOEXEC);
            libc::write(exec_w.as_raw_fd(), errno.to_le_bytes().as_ptr().cast(), 4);
            libc::_exit(127);
        }
    }
    drop(exec_w);
    drop(gate_r);
    if pid < 0 {
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(libc::EAGAIN);
        send(report.as_fd(), Report::ExecFailed(errno));
        exit(0);
    }
    PYTHON.store(pid, Ordering::Relaxed);
    send(report.as_fd(), Report::Pid(pid));
    let _ = nix::unistd::write(&gate_w, &[1]);
    drop(gate_w);
    let _ = python;
    // The program's output is python's alone: the nanny lets go of its copies, so that the runner
    // sees the end of the output when python (and what it started) is done.
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        for slot in 0..3 {
            let _ = unix::dup2_raw(null.as_raw_fd(), slot);
        }
    }
    let mut errno = [0u8; 4];
    if read_exact(exec_r.as_fd(), &mut errno) {
        let _ = waitpid(Pid::from_raw(pid), None);
        send(report.as_fd(), Report::ExecFailed(i32::from_le_bytes(errno)));
        exit(0);
    }
    drop(exec_r);
    send(report.as_fd(), Report::Started(0));
    // Reap python, then whatever it left that ends up here, until nothing is left.
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::__WALL)) {
            Ok(status @ (WaitStatus::Exited(p, _) | WaitStatus::Signaled(p, _, _))) if p.as_raw() == pid => {
                send(report.as_fd(), Report::Status(unix::raw_wait_status(status)));
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => exit(0),
        }
    }
}

/// In python's child, before exec: the signal dispositions and mask python would get from the
/// runner's parent.
///
/// # Safety
/// Only between fork and exec (it changes the process's dispositions).
unsafe fn start_as_python_would(ignored: &[i32]) {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        let disposition = if ignored.contains(&sig) { libc::SIG_IGN } else { libc::SIG_DFL };
        // SAFETY: setting a disposition; the caller is between fork and exec.
        unsafe { libc::signal(sig, disposition) };
    }
    // SAFETY: an empty set, then the mask set to it.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

fn send(fd: BorrowedFd<'_>, report: Report) {
    let _ = nix::unistd::write(fd, &report.encode());
}

/// Reads exactly `buf.len()` bytes; false at end of file first.
pub(crate) fn read_exact(fd: BorrowedFd<'_>, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(fd, &mut buf[got..]) {
            Ok(0) => return false,
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
    true
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit never returns; the nanny has nothing to flush or tear down.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::Report;

    #[test]
    fn reports_cross_the_pipe_as_they_were_sent() {
        for report in [
            Report::Pid(4321),
            Report::ExecFailed(2),
            Report::Status(9 << 8),
            Report::Status(-1),
            Report::Started(0),
        ] {
            assert_eq!(Report::decode(report.encode()), Some(report));
        }
        assert_eq!(Report::decode([9, 0, 0, 0, 0, 0, 0, 0]), None);
    }
}
