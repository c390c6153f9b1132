//! The few raw Unix operations the engines need that std does not offer: process-descriptor handles,
//! non-blocking fds, process-group signals, and tying a child's life to its parent.

use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Opens a pidfd for `pid`: it becomes readable when the process exits, so exits can be polled with
/// the output pipes in one loop.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; nothing is borrowed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Sets `O_NONBLOCK` on `fd`.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Sends SIGKILL to every process of group `pgid`; a group that is already gone is not an error.
pub fn kill_group(pgid: u32) {
    // ESRCH (no such group) is the normal case once everything has exited.
    let _ = killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL);
}

/// Asks the kernel to SIGKILL the calling process when the thread that forked it dies, so that no
/// child outlives the runner even when the runner itself is killed. Async-signal-safe: for `pre_exec`
/// and for freshly forked children.
pub fn die_with_parent() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `dup2(old, new)` on raw descriptor numbers (the fixed slots 0, 1, 2 and the worker's fd 3 are not
/// owned values). Async-signal-safe.
pub fn dup2_raw(old: i32, new: i32) -> io::Result<()> {
    loop {
        // SAFETY: dup2 on plain integers; the caller owns both slots.
        if unsafe { libc::dup2(old, new) } >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

/// Process groups of everything this runner has started and not yet reaped: programs, executors and
/// the zygote. An emergency stop (a second Ctrl-C) kills them all.
static GROUPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Records a process group the runner is responsible for.
pub fn track_group(pgid: u32) {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner()).push(pgid);
}

/// Forgets a process group that has been reaped.
pub fn untrack_group(pgid: u32) {
    let mut groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = groups.iter().position(|g| *g == pgid) {
        groups.swap_remove(i);
    }
}

/// Kills every tracked process group at once.
pub fn kill_tracked_groups() {
    let groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    for pgid in groups.iter() {
        kill_group(*pgid);
    }
}

/// Moves `fd` to a descriptor number of 512 or more (close-on-exec), freeing its low number.
pub fn move_high(fd: OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we own; the old one is dropped after.
    let new = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::F_DUPFD_CLOEXEC, 512) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Kills every process (other than this one) that holds the write end of the pipes whose read ends
/// are `pipes`: what a finished program left behind holding its output, even when it escaped the
/// program's process group with setsid(). Found through /proc, by the pipes' inode numbers.
pub fn kill_pipe_holders(pipes: &[BorrowedFd<'_>]) {
    let inodes: Vec<String> = pipes
        .iter()
        .filter_map(|fd| nix::sys::stat::fstat(fd).ok())
        .map(|st| format!("pipe:[{}]", st.st_ino))
        .collect();
    if inodes.is_empty() {
        return;
    }
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else { return };
    for entry in procs.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
        });
        if holds {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}
