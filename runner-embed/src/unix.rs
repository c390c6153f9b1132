//! The few raw Unix operations the engines need that std does not offer: process-descriptor handles,
//! non-blocking fds, process-group signals, and tying a child's life to its parent.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// A command that starts this very binary again (the zygote, a nanny): `/proc/self/exe`, which the
/// kernel resolves to the file this process runs even after its path was replaced or deleted (runner
/// upgraded in the middle of a long campaign would otherwise start the new version's workers, which
/// may not speak this one's protocol, or none), with the binary's path as `argv[0]` for `ps`.
pub fn own_binary() -> io::Result<std::process::Command> {
    use std::os::unix::process::CommandExt;
    let path = std::env::current_exe()?;
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0(path);
    Ok(cmd)
}

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

/// The signals this process's parent left ignored (as `nohup` leaves SIGHUP), recorded by
/// [`record_inherited_signals`] before the runner installs handlers of its own: the processes it
/// starts for programs start with them ignored too, as they would from that parent. (SIGPIPE is left
/// out: the Rust runtime ignores it before anything can look, and python ignores it on its own.)
static INHERITED_IGNORED: std::sync::OnceLock<Vec<i32>> = std::sync::OnceLock::new();

/// Marks every descriptor above 2 that the runner inherited close-on-exec, so that no process it
/// starts (worker, nanny, hence no program) inherits it: python under `ProgramRunner`
/// (`subprocess.run`, `close_fds=True`) starts with descriptors 0 to 2 only. The runner itself can
/// still use them (`-o /dev/fd/3`). Call first thing in `main`, before any descriptor of its own.
pub fn cloexec_inherited_descriptors() {
    // The system call, not glibc's wrapper (glibc 2.34 and later only).
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC closes nothing; it only sets a flag.
    let flagged = unsafe {
        libc::syscall(libc::SYS_close_range, 3 as libc::c_uint, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC)
    };
    if flagged == 0 {
        return;
    }
    // Kernels before 5.11: one by one.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<i32> = dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
    for fd in fds.into_iter().filter(|fd| *fd > 2) {
        // SAFETY: F_SETFD on a descriptor that may have closed meanwhile (the directory's own) only
        // fails with EBADF.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 {
            // SAFETY: see above.
            unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        }
    }
}

/// Records which signals the runner was started with ignored; call first thing in `main`.
pub fn record_inherited_signals() {
    let mut ignored = Vec::new();
    for sig in 1..libc::SIGRTMAX() {
        if matches!(sig, libc::SIGKILL | libc::SIGSTOP | libc::SIGPIPE) {
            continue;
        }
        // SAFETY: sigaction with a null new action only reads the current one into `old`.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: see above.
        if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } == 0
            && old.sa_sigaction == libc::SIG_IGN
        {
            ignored.push(sig);
        }
    }
    let _ = INHERITED_IGNORED.set(ignored);
}

/// The signals the runner's parent left ignored (none if never recorded).
pub fn inherited_ignored() -> &'static [i32] {
    INHERITED_IGNORED.get().map_or(&[], Vec::as_slice)
}

/// In a child between fork and exec: ignores again what the runner's parent left ignored (the
/// runner's own handlers, for Ctrl-C, would otherwise reach the new program as default dispositions).
/// Async-signal-safe.
pub fn restore_inherited_signals() -> io::Result<()> {
    for sig in inherited_ignored() {
        // SAFETY: setting a disposition to SIG_IGN, between fork and exec.
        unsafe { libc::signal(*sig, libc::SIG_IGN) };
    }
    Ok(())
}

/// The raw wait status (as `waitpid` gives it in C) of an ended process.
pub fn raw_wait_status(status: nix::sys::wait::WaitStatus) -> i32 {
    use nix::sys::wait::WaitStatus::*;
    match status {
        Exited(_, code) => (code & 0xff) << 8,
        Signaled(_, sig, core) => sig as i32 | if core { 0x80 } else { 0 },
        _ => 0,
    }
}

/// Makes this process a child subreaper: what loses its parent below it becomes its child.
pub fn become_subreaper() {
    // SAFETY: prctl with plain integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// Whether process `pid` is stopped (SIGSTOP, SIGTSTP, ...), from `/proc/<pid>/stat`.
pub fn is_stopped(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // The state follows the command name, which is in parentheses and may contain anything.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    matches!(state, Some('T' | 't'))
}

/// Ignores every signal that can be ignored, but SIGCHLD (ignoring it would reap children
/// unasked) and the synchronous faults: what a process that must outlive its child's signals does.
pub fn ignore_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if matches!(
            sig,
            libc::SIGKILL
                | libc::SIGSTOP
                | libc::SIGCHLD
                | libc::SIGSEGV
                | libc::SIGBUS
                | libc::SIGILL
                | libc::SIGFPE
        ) {
            continue;
        }
        // SAFETY: setting a disposition to SIG_IGN; no handler runs.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
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

/// `clone3`'s argument (`struct clone_args` of linux/sched.h, as of Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `CLONE_INTO_CGROUP` (Linux 5.7): the child starts in the cgroup named by `CloneArgs::cgroup`.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Forks a child that starts in the cgroup whose directory `cgroup` is open on (`clone3` with
/// `CLONE_INTO_CGROUP`), retried as [`fork_retrying`] is. Returns the pid (0 in the child) and whether
/// the child is in the cgroup: where the kernel cannot (before Linux 5.7, a cgroup the runner may not
/// write), this is a plain fork and the caller moves the child itself. Moving a process into a cgroup
/// afterwards costs about 12 ms (the kernel waits for an RCU grace period); starting it there costs
/// what a fork costs, which matters when every program gets a cgroup of its own.
///
/// # Safety
/// As [`fork_retrying`], and more: the child is made by the system call itself, not by glibc's
/// `fork`, so it runs no `pthread_atfork` handler and its thread descriptor still names its parent's
/// thread. Until it execs, or forks again with glibc's `fork` (which gives that child a right one),
/// the child may only make plain system calls: no `raise`, `pthread_kill` or anything that reads the
/// thread's identity from glibc.
pub unsafe fn fork_into_cgroup(cgroup: BorrowedFd<'_>) -> std::io::Result<(libc::pid_t, bool)> {
    let mut pause = std::time::Duration::from_millis(5);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut args = CloneArgs {
            flags: CLONE_INTO_CGROUP,
            exit_signal: libc::SIGCHLD as u64,
            cgroup: cgroup.as_raw_fd() as u64,
            ..CloneArgs::default()
        };
        // SAFETY: clone3 with a valid, fully initialised argument of the size given; the caller's
        // promise covers the child (see above).
        let pid = unsafe {
            libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>())
        };
        if pid >= 0 {
            return Ok((pid as libc::pid_t, true));
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN | libc::ENOMEM) if std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(500));
            }
            Some(libc::EAGAIN | libc::ENOMEM) => return Err(err),
            // No clone3 or no CLONE_INTO_CGROUP here, or a cgroup it cannot start a process in.
            // SAFETY: the caller's promise, which covers fork too.
            _ => return unsafe { fork_retrying() }.map(|pid| (pid, false)),
        }
    }
}

/// `fork()`, tried again while the process table or memory is full for a moment (EAGAIN, ENOMEM): a
/// fork bomb next door must not cost a program its result. Gives up after about a minute.
///
/// # Safety
/// As `fork()`: the caller is single-threaded (the zygote between `PyOS_BeforeFork` and
/// `PyOS_AfterFork_*`, a nanny), or the child calls only async-signal-safe functions.
pub unsafe fn fork_retrying() -> std::io::Result<libc::pid_t> {
    let mut pause = std::time::Duration::from_millis(5);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        // SAFETY: the caller's promise (see above).
        let pid = unsafe { libc::fork() };
        if pid >= 0 {
            return Ok(pid);
        }
        let err = std::io::Error::last_os_error();
        let transient = matches!(err.raw_os_error(), Some(libc::EAGAIN | libc::ENOMEM));
        if !transient || std::time::Instant::now() >= deadline {
            return Err(err);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(500));
    }
}
