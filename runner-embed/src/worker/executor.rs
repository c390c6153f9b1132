//! An executor: a forked copy of the zygote that runs programs in-process. It receives a program and
//! its output pipes, runs it with python's semantics ([`capi::run_file`], then `executor.py`'s
//! `end_program` and `finalize`), and either exits (fork mode, a program whose end only python's
//! real shutdown can give, a state that cannot be restored) or waits for the next program (warm mode).
//!
//! What it tells the supervisor is typed ([`FromExecutor`]): how each program ended, or that its own
//! code failed, which the supervisor reports as an engine failure, never as the program's returncode.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use nix::unistd::{getpid, setpgid, Pid};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use super::capi;
use crate::protocol::{self, FromExecutor, ProgramDone, RetireReason, RunProgram};
use crate::unix;

/// The executor's own exit codes (sysexits.h), used only when it fails; the supervisor learns why
/// from the [`FromExecutor::Failed`] message sent just before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum ExitCode {
    /// runner's own code failed (EX_SOFTWARE).
    Software = 70,
    /// An operating-system call the executor needs failed (EX_OSERR).
    OsError = 71,
    /// A message from the supervisor was not what the protocol says (EX_PROTOCOL).
    Protocol = 76,
    /// The socket to the supervisor is gone: the program closed or replaced it (EX_IOERR).
    ChannelLost = 74,
}

/// The token of the program the executor runs (protocol::RunProgram::token), which every reply
/// carries.
static TOKEN: AtomicU64 = AtomicU64::new(0);

/// The executor's socket to the supervisor, and what it is (device and inode): a program can close
/// its descriptor, or put another file in its place, and the executor must not then talk to whatever
/// is there.
struct Channel {
    sock: OwnedFd,
    identity: (u64, u64),
}

impl Channel {
    fn new(sock: OwnedFd) -> std::io::Result<Channel> {
        let identity = identity(sock.as_fd())?;
        Ok(Channel { sock, identity })
    }

    /// The socket, if the descriptor still is it.
    fn intact(&self) -> Option<BorrowedFd<'_>> {
        (identity(self.sock.as_fd()).ok() == Some(self.identity)).then(|| self.sock.as_fd())
    }

    /// Sends `msg` on the socket: through its own descriptor while that still is the socket, else
    /// through a copy of it that the program made (found by identity), else not at all.
    fn send(&self, msg: &FromExecutor) -> std::io::Result<()> {
        if let Some(sock) = self.intact() {
            return protocol::send(sock, msg, &[]);
        }
        let copy = std::fs::read_dir("/proc/self/fd")?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            // SAFETY: only used while this function runs, and only if it is the socket.
            .map(|fd| unsafe { BorrowedFd::borrow_raw(fd) })
            .find(|fd| identity(*fd).ok() == Some(self.identity));
        match copy {
            Some(fd) => protocol::send(fd, msg, &[]),
            None => Err(std::io::Error::new(std::io::ErrorKind::NotConnected, "the socket is gone")),
        }
    }
}

fn identity(fd: BorrowedFd<'_>) -> std::io::Result<(u64, u64)> {
    let st = nix::sys::stat::fstat(fd)?;
    Ok((st.st_dev, st.st_ino))
}

/// Points `slots` at /dev/null (stdin before a program, fds 1 and 2 after it). Opened each time, not
/// kept: a program could close a kept descriptor.
fn devnull_onto(slots: &[i32]) {
    if let Ok(null) = std::fs::File::open("/dev/null") {
        for slot in slots {
            let _ = unix::dup2_raw(null.as_raw_fd(), *slot);
        }
    }
}

/// Why the executor cannot go on; sent to the supervisor, then the executor exits with `code`.
struct Failure {
    code: ExitCode,
    message: String,
}

impl Failure {
    fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Failure { code, message: message.into() }
    }
}

/// What `executor.py` hands back at the end of a program, read by name (its class `Ending`).
#[derive(FromPyObject)]
struct Ending {
    returncode: i32,
    keyboard_interrupt: bool,
    reusable: bool,
    reason: Option<Retire>,
    finalize: bool,
}

/// Why the executor cannot go on, as `warm_state.py`'s `Retire` says it (read by name).
#[derive(FromPyObject)]
struct Retire {
    kind: String,
    entry: Option<String>,
    detail: Option<String>,
}

impl TryFrom<Retire> for RetireReason {
    type Error = PyErr;

    fn try_from(r: Retire) -> PyResult<RetireReason> {
        Ok(match (r.kind.as_str(), r.entry) {
            ("threads_left", _) => RetireReason::ThreadsLeft,
            ("threading_hook_failed", _) => RetireReason::ThreadingHookFailed,
            ("stream_not_flushed", _) => RetireReason::StreamNotFlushed,
            ("main_outlived", _) => RetireReason::MainOutlived { referrers: r.detail },
            ("gc_saveall", _) => RetireReason::GcSaveAll,
            ("state", Some(entry)) => RetireReason::State {
                message: r.detail.unwrap_or_else(|| format!("cannot restore {entry}")),
                entry,
            },
            (kind, _) => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "unknown retire reason {kind:?}"
                )))
            }
        })
    }
}

/// How a program ended, once the Python side is done with it.
struct Finished {
    code: i32,
    keyboard_interrupt: bool,
    reusable: bool,
    reason: Option<RetireReason>,
    /// The executor exits after this program.
    last: bool,
}

/// An executor's state between programs.
struct Executor<'py> {
    py: Python<'py>,
    /// executor.py.
    module: Bound<'py, PyModule>,
    channel: Channel,
    /// The executor's pid: a program's forked child that returns into the executor is not it.
    pid: Pid,
}

/// An executor's life: run programs until told to stop, the supervisor goes, or the state cannot be
/// restored. Never returns.
pub(super) fn main(py: Python<'_>, sock: OwnedFd, modules: &super::zygote::Modules, parent: Pid) -> ! {
    // Its own process group, so a timeout kills the executor and everything the program started; and
    // it dies with its parent, its nanny (which dies with the zygote).
    let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
    let _ = unix::die_with_parent();
    if nix::unistd::getppid() != parent {
        exit_now(0);
    }
    let executor = match start(py, sock, modules) {
        Ok(executor) => executor,
        Err((channel, failure)) => fail(channel.as_ref(), failure),
    };
    loop {
        let Some(sock) = executor.channel.intact() else { exit_now(ExitCode::ChannelLost as i32) };
        let received = py.detach(|| protocol::recv::<RunProgram>(sock));
        let (run, fds) = match received {
            Ok(Some(msg)) => msg,
            Ok(None) => exit_now(0),
            Err(e) => fail(
                Some(&executor.channel),
                Failure::new(ExitCode::Protocol, format!("cannot read the next program: {e}")),
            ),
        };
        TOKEN.store(run.token, Ordering::Relaxed);
        match executor.run_one(run, fds) {
            Ok(mut done) => {
                if executor.channel.intact().is_none() {
                    // The program moved the socket to another descriptor: it saw runner's descriptor
                    // where python has none (the supervisor then runs it as python), and it could
                    // write on it in the next program's time, so this executor takes no other program.
                    done.reusable = false;
                    done.reason = Some(RetireReason::ChannelMoved);
                }
                let reusable = done.reusable;
                match executor.channel.send(&FromExecutor::Done(done)) {
                    Ok(()) if reusable => {}
                    Ok(()) => exit_now(0),
                    Err(_) => exit_now(ExitCode::ChannelLost as i32),
                }
            }
            Err(failure) => {
                let channel = (getpid() == executor.pid).then_some(&executor.channel);
                fail(channel, failure)
            }
        }
    }
}

/// The executor's set-up: stdin on /dev/null, its own descriptors out of a program's way, the
/// warm-state registry told (the entries that record what each executor has of its own).
fn start<'py>(
    py: Python<'py>,
    sock: OwnedFd,
    modules: &super::zygote::Modules,
) -> Result<Executor<'py>, (Option<Channel>, Failure)> {
    devnull_onto(&[0]);
    // The executor's own descriptor moves out of the way: a program's first open() gets fd 3, as in a
    // fresh python.
    let channel = match unix::move_high(sock).and_then(Channel::new) {
        Ok(c) => c,
        Err(e) => return Err((None, Failure::new(ExitCode::OsError, format!("move its socket: {e}")))),
    };
    if let Err(e) = modules.state.bind(py).call_method0("executor_started") {
        return Err((Some(channel), Failure::new(ExitCode::Software, describe(py, e))));
    }
    let module = modules.executor.bind(py).clone();
    Ok(Executor { py, module, channel, pid: getpid() })
}

impl Executor<'_> {
    /// Runs one program to its end. In warm mode returns how it ended, the state restored (or why it
    /// could not be); a program after which the executor exits (fork mode, python's real shutdown)
    /// ends the process here.
    fn run_one(&self, run: RunProgram, fds: Vec<OwnedFd>) -> Result<ProgramDone, Failure> {
        let py = self.py;
        let [out, err] = <[OwnedFd; 2]>::try_from(fds).map_err(|fds| {
            Failure::new(ExitCode::Protocol, format!("a program came with {} descriptors, not 2", fds.len()))
        })?;
        // A previous program may have closed fds 0-2, so the pipes may have arrived on them: move them
        // out of the way before placing them. stdin is /dev/null for every program.
        let moved = |fd| unix::move_high(fd).map_err(|e| Failure::new(ExitCode::OsError, format!("{e}")));
        let (out, err) = (moved(out)?, moved(err)?);
        devnull_onto(&[0]);
        let _ = unix::dup2_raw(out.as_raw_fd(), 1);
        let _ = unix::dup2_raw(err.as_raw_fd(), 2);
        drop((out, err));
        let path = run.path.clone();
        let started = Instant::now();
        let finished =
            self.run_program(&path, &run).map_err(|e| Failure::new(ExitCode::Software, describe(py, e)))?;
        // exit() flushes C stdio; a program that wrote through it (C extensions, ctypes) expects that.
        // SAFETY: fflush(NULL) flushes every open output stream.
        unsafe { libc::fflush(std::ptr::null_mut()) };
        let program_time = started.elapsed().as_secs_f64();
        if finished.last {
            self.exit_after(finished, program_time);
        }
        // The program is over: let go of its output so the supervisor sees end of file.
        self.release_output();
        let Finished { code, reusable, reason, .. } = finished;
        let timings = self.module.call_method0("debug_timings").and_then(|t| t.extract()).unwrap_or(None);
        Ok(ProgramDone { token: run_token(), returncode: code, reusable, reason, program_time, timings })
    }

    /// The program itself and the Python side of its end.
    fn run_program(&self, path: &std::path::Path, run: &RunProgram) -> PyResult<Finished> {
        let py = self.py;
        // The path as python has it in sys.argv[0] and __file__: decoded with the file system encoding
        // (surrogateescape for bytes that are not UTF-8).
        let name = path.as_os_str().into_pyobject(py)?;
        let d = self.module.call_method1("prepare", (name, run.args.clone(), run.env.clone()))?;
        let d = d.cast_into::<PyDict>()?;
        let (how, payload) = capi::run_file(py, path, &d)?.into_python(py);
        // A program that called os.fork() without exiting in the child returns here twice: the child
        // ends as a process of its own, never as the executor.
        let last = run.last || getpid() != self.pid;
        // From here on runner's own code runs: the program's trace and profile functions are kept
        // aside, and put back only around what python's shutdown runs with them (executor.py's
        // `_traced`: thread shutdown, exit handlers, collections; the flush below).
        let traced = capi::suspend_tracing(py)?;
        let ending = self.module.call_method1("end_program", (&d, how, payload, last, traced))?;
        let kbd = ending.extract::<Ending>()?.keyboard_interrupt;
        // As at exit, no Python frame is on the stack while the std files are flushed: an error report
        // ("Exception ignored in: <stdout>") has no traceback of ours.
        let flushed = capi::with_program_tracing(py, || capi::flush_std_files(py))?;
        // __main__'s fate depends on who else refers to its globals, so we must not.
        drop(d);
        let ending = self.module.call_method1("finalize", (ending, flushed));
        let ending: Ending = ending?.extract()?;
        let reason = ending.reason.map(RetireReason::try_from).transpose()?;
        if ending.finalize {
            // python's own shutdown goes on with the program's tracing functions.
            capi::resume_tracing(py)?;
            // Something outside __main__ still refers to it: what python does with it is what the
            // rest of its shutdown does, so that shutdown runs, for real, while the program's output
            // is still attached. Nothing of Python is used after it: the process ends in
            // `exit_after`, without dropping anything.
            // SAFETY: the GIL is held by this, the main, thread and no Python object we hold is
            // touched (or dropped) after the interpreter is gone.
            let finalized = unsafe { pyo3::ffi::Py_FinalizeEx() };
            let code = if !kbd && (finalized < 0 || !flushed) { 120 } else { ending.returncode };
            return Ok(Finished { code, keyboard_interrupt: kbd, reusable: false, reason, last: true });
        }
        capi::forget_tracing();
        Ok(Finished {
            code: ending.returncode,
            keyboard_interrupt: kbd,
            reusable: ending.reusable && !last,
            reason,
            last,
        })
    }

    /// The end of the executor after its last program: the supervisor is told how the program ended
    /// (a forked child of the program has no supervisor to tell), then the process exits as python
    /// would have.
    fn exit_after(&self, finished: Finished, program_time: f64) -> ! {
        if getpid() == self.pid {
            // Let go of the program's output before the process winds down (tearing down a large
            // address space takes a while), then say how it ended.
            self.release_output();
            // A program that moved the socket saw runner's descriptor: the supervisor runs it as python.
            let reason = match self.channel.intact() {
                Some(_) => finished.reason,
                None => Some(RetireReason::ChannelMoved),
            };
            let done = ProgramDone {
                token: run_token(),
                returncode: finished.code,
                reusable: false,
                reason,
                program_time,
                timings: None,
            };
            let _ = self.channel.send(&FromExecutor::Done(done));
        }
        if finished.keyboard_interrupt {
            // exit_sigint() in main.c: die by SIGINT so the parent sees the signal.
            // SAFETY: plain signal calls on our own process.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::kill(libc::getpid(), libc::SIGINT);
            }
        }
        exit_now(finished.code)
    }

    /// Points fds 1 and 2 at /dev/null, so the supervisor sees the end of the program's output.
    fn release_output(&self) {
        devnull_onto(&[1, 2]);
    }
}

/// The text python would print for `e`: its traceback, then the exception.
fn describe(py: Python<'_>, e: PyErr) -> String {
    let tb = e.traceback(py).and_then(|tb| tb.format().ok()).unwrap_or_default();
    format!("{tb}{e}")
}

/// The token of the program being run.
fn run_token() -> u64 {
    TOKEN.load(Ordering::Relaxed)
}

/// Tells the supervisor (when the channel is there) why the executor cannot go on, then exits.
fn fail(channel: Option<&Channel>, failure: Failure) -> ! {
    if let Some(channel) = channel {
        let _ = channel.send(&FromExecutor::Failed { token: run_token(), message: failure.message });
    }
    exit_now(failure.code as i32)
}

/// Ends the process at once: no Rust or Python teardown (the interpreter belongs to the zygote).
pub(super) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no shared state.
    unsafe { libc::_exit(code & 0xff) }
}
