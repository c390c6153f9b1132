//! The zygote: the worker process after start-up. It initialises the interpreter as the selected
//! Python would start, loads `executor.py`, imports the preloads, records the baseline, then only
//! forks executors on request and reports how they end (it is their parent: only it can read their
//! wait status). Single-threaded; it never runs user code and never touches CUDA.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::{getpid, Pid};
use pyo3::prelude::*;
use pyo3::types::PyModule;

use super::capi;
use super::executor::{self, exit_now};
use crate::interp::{self, InterpreterConfig};
use crate::protocol::{self, FromZygote, Setup, ToZygote};
use crate::unix;

const EXECUTOR_PY: &str = include_str!("../executor.py");
const WARM_STATE_PY: &str = include_str!("../warm_state.py");

/// The zygote's two private Python modules, which every executor inherits.
pub(super) struct Modules {
    /// `executor.py`: a program's start and end, as python gives them.
    pub executor: Py<PyModule>,
    /// `warm_state.py`: the warm-state registry.
    pub state: Py<PyModule>,
}

pub(super) fn zygote(sock: OwnedFd) -> Result<(), Box<dyn std::error::Error>> {
    let Some((setup, _)) = protocol::recv::<Setup>(sock.as_fd())? else { return Ok(()) };
    let config = InterpreterConfig { executable: setup.executable.clone(), argv0: setup.argv0.clone() };
    let mut phases = Vec::new();
    let mut lap = phase_timer();
    if let Err(e) = interp::initialize(&config) {
        protocol::send(sock.as_fd(), &FromZygote::SetupFailed { message: e.to_string() }, &[])?;
        return Ok(());
    }
    phases.push(("interpreter".to_string(), lap()));
    let modules = match Python::attach(|py| load_executor(py, &setup, &mut phases, sock.as_fd())) {
        Ok(m) => m,
        Err(message) => {
            protocol::send(sock.as_fd(), &FromZygote::SetupFailed { message }, &[])?;
            return Ok(());
        }
    };
    let version = Python::attach(|_| Python::version_str().to_string());
    protocol::send(sock.as_fd(), &FromZygote::Ready { version, phases }, &[])?;
    serve(sock, modules)
}

/// Runs `code` as the private module `name` (never in sys.modules) with a private copy of the
/// builtins: a program that replaces one (`builtins.len = ...`) changes what it sees, not what
/// runner's own code calls.
fn private_module<'py>(py: Python<'py>, name: &str, code: &str) -> PyResult<Bound<'py, PyModule>> {
    let module = PyModule::new(py, name)?;
    let builtins = py.import("builtins")?.dict().copy()?;
    module.dict().set_item("__builtins__", builtins)?;
    let code = CString::new(code).expect("runner's Python files have no NUL");
    py.run(&code, Some(&module.dict()), None)?;
    Ok(module)
}

/// Loads executor.py and warm_state.py as private modules, imports the preloads and records the
/// baseline state. Errors come back as the text python would print.
fn load_executor(
    py: Python<'_>,
    setup: &Setup,
    phases: &mut Vec<(String, f64)>,
    sock: std::os::fd::BorrowedFd<'_>,
) -> Result<Modules, String> {
    let mut lap = phase_timer();
    let describe = |e: PyErr| {
        let tb = e.traceback(py).and_then(|tb| tb.format().ok()).unwrap_or_default();
        format!("{tb}{e}")
    };
    let state = private_module(py, "_runner_warm_state", WARM_STATE_PY).map_err(describe)?;
    state
        .setattr("_dict_versions", wrap_pyfunction!(capi::dict_versions, py).map_err(describe)?)
        .map_err(describe)?;
    state.setattr("_c", crate::state::c_entries(py).map_err(describe)?).map_err(describe)?;
    let module = private_module(py, "_runner_executor", EXECUTOR_PY).map_err(describe)?;
    module.setattr("_state", &state).map_err(describe)?;
    capi::init_tracing(py).map_err(describe)?;
    capi::init_unraisable(py).map_err(describe)?;
    module.setattr("_traced", wrap_pyfunction!(capi::traced, py).map_err(describe)?).map_err(describe)?;
    module
        .setattr("_write_unraisable", wrap_pyfunction!(capi::write_unraisable, py).map_err(describe)?)
        .map_err(describe)?;
    module
        .setattr("_module_with_dict", wrap_pyfunction!(capi::module_with_dict, py).map_err(describe)?)
        .map_err(describe)?;
    phases.push(("executor.py".to_string(), lap()));
    let cache = setup.bytecode_cache.as_deref().map(|p| p.to_string_lossy().into_owned());
    let undo = module.call_method1("preload_begin", (cache, setup.preload.clone())).map_err(describe)?;
    for name in &setup.preload {
        // Said first, so that a preload that never finishes importing is named (--startup-timeout).
        let _ = protocol::send(sock, &FromZygote::Importing { name: name.clone() }, &[]);
        py.import(name.as_str()).map_err(|e| format!("cannot preload {name}: {}", describe(e)))?;
        let spoiled = module.call_method0("preload_spoils_cuda").map_err(describe)?;
        if !spoiled.is_none() {
            return Err(format!(
                "cannot preload {name}: {spoiled}, after which executors forked from the zygote cannot use CUDA; \
                 preload only modules that leave the GPU alone at import"
            ));
        }
        phases.push((format!("import {name}"), lap()));
    }
    module.call_method1("preload_end", (undo,)).map_err(describe)?;
    crate::state::install_watch(&state).map_err(describe)?;
    state.call_method1("capture_baseline", (setup.argv0.as_str(),)).map_err(describe)?;
    phases.push(("baseline".to_string(), lap()));
    Ok(Modules { executor: module.unbind(), state: state.unbind() })
}

/// Seconds since the previous call (or since the timer was made).
fn phase_timer() -> impl FnMut() -> f64 {
    let mut last = std::time::Instant::now();
    move || {
        let now = std::time::Instant::now();
        std::mem::replace(&mut last, now).elapsed().as_secs_f64()
    }
}

/// An executor's parent: a fork of the zygote that only waits for the executor and says how it
/// ended. A program that signals its parent (`os.kill(os.getppid(), ...)`) reaches the nanny, which
/// ignores every signal it can, instead of the zygote, which every executor needs; a SIGKILL or
/// SIGSTOP reaches only this executor's nanny.
struct Nanny {
    /// The executor's pid.
    executor: i32,
    /// The read end of the nanny's report: the executor's pid, then its raw wait status.
    report: OwnedFd,
}

/// How often the zygote looks for what has no descriptor to wake it: a stopped nanny, orphans to reap.
const HOUSEKEEPING: std::time::Duration = std::time::Duration::from_secs(1);

/// The zygote's loop: fork executors on request, report their exits, stop when the supervisor goes.
fn serve(sock: OwnedFd, modules: Modules) -> Result<(), Box<dyn std::error::Error>> {
    // Whatever loses its parent below the zygote (an executor whose nanny was killed, what a program
    // left running) becomes the zygote's child, to be reaped here.
    unix::become_subreaper();
    let mut nannies: HashMap<i32, Nanny> = HashMap::new();
    loop {
        let pids: Vec<i32> = nannies.keys().copied().collect();
        let (sock_ready, reported) = {
            let mut fds = vec![PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
            fds.extend(pids.iter().map(|pid| PollFd::new(nannies[pid].report.as_fd(), PollFlags::POLLIN)));
            let timeout = PollTimeout::try_from(HOUSEKEEPING).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
            let reported: Vec<i32> =
                pids.iter().zip(&fds[1..]).filter(|(_, fd)| ready(fd)).map(|(pid, _)| *pid).collect();
            (ready(&fds[0]), reported)
        };
        for nanny in reported {
            let Some(n) = nannies.remove(&nanny) else { continue };
            let mut status = [0u8; 4];
            let exited = match read_exact(n.report.as_fd(), &mut status) {
                // The nanny saw the executor end.
                true => FromZygote::Exited {
                    pid: n.executor,
                    status: i32::from_le_bytes(status),
                    parent_killed: false,
                },
                // The nanny died first (killed: what else could end it?), and the executor with it.
                false => {
                    let _ =
                        nix::sys::signal::kill(Pid::from_raw(n.executor), nix::sys::signal::Signal::SIGKILL);
                    FromZygote::Exited { pid: n.executor, status: libc::SIGKILL, parent_killed: true }
                }
            };
            protocol::send(sock.as_fd(), &exited, &[])?;
        }
        housekeeping(&nannies);
        if !sock_ready {
            continue;
        }
        match protocol::recv::<ToZygote>(sock.as_fd())? {
            None => {
                // The supervisor is gone: nothing we started may outlive it.
                for (nanny, n) in &nannies {
                    unix::kill_group(n.executor as u32);
                    unix::kill_group(*nanny as u32);
                }
                return Ok(());
            }
            Some((ToZygote::ForkAndReap { token }, _)) => {
                let seconds = fork_and_reap()?;
                protocol::send(sock.as_fd(), &FromZygote::ForkedAndReaped { token, seconds }, &[])?;
            }
            Some((ToZygote::Fork { token }, _)) => match fork_executor(&sock, &nannies, &modules) {
                Ok((nanny, n, theirs)) => {
                    let pid = n.executor;
                    nannies.insert(nanny, n);
                    protocol::send(sock.as_fd(), &FromZygote::Forked { token, pid }, &[theirs.as_raw_fd()])?;
                }
                Err(e) => protocol::send(
                    sock.as_fd(),
                    &FromZygote::ForkFailed { token, message: e.to_string() },
                    &[],
                )?,
            },
        }
    }
}

/// What wakes nothing: orphans to reap (nannies that reported, executors whose nanny died, what
/// programs left), and nannies that a program stopped (SIGSTOP, SIGTSTP to its parent), which are
/// continued: a stopped nanny could not report its executor's end.
fn housekeeping(nannies: &HashMap<i32, Nanny>) {
    while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL)) {
        if status == nix::sys::wait::WaitStatus::StillAlive {
            break;
        }
    }
    for nanny in nannies.keys() {
        if unix::is_stopped(*nanny) {
            let _ = nix::sys::signal::kill(Pid::from_raw(*nanny), nix::sys::signal::Signal::SIGCONT);
        }
    }
}

/// Reads exactly `buf.len()` bytes; false at end of file first.
fn read_exact(fd: std::os::fd::BorrowedFd<'_>, buf: &mut [u8]) -> bool {
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

/// The floor of fork mode: fork this process (with everything it has imported), have the child exit
/// at once, and wait for it.
fn fork_and_reap() -> std::io::Result<f64> {
    let start = std::time::Instant::now();
    // SAFETY: the child only calls _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        exit_now(0);
    }
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Err(Errno::EINTR) => continue,
            Ok(_) => return Ok(start.elapsed().as_secs_f64()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Forks one executor under a nanny of its own (see [`Nanny`]). Returns the nanny's pid, the nanny,
/// and the supervisor's end of the executor's socket.
fn fork_executor(
    zygote_sock: &OwnedFd,
    nannies: &HashMap<i32, Nanny>,
    modules: &Modules,
) -> std::io::Result<(i32, Nanny, OwnedFd)> {
    let (theirs, ours) = protocol::pair()?;
    let (report, report_w) = unix::pipe()?;
    let zygote_pid = getpid();
    Python::attach(|py| {
        // SAFETY: PyOS_BeforeFork/AfterFork_* bracket fork() with the GIL held, as CPython requires;
        // the zygote is single-threaded, so the children are consistent copies.
        unsafe { pyo3::ffi::PyOS_BeforeFork() };
        // SAFETY: the zygote is single-threaded, inside PyOS_BeforeFork.
        let nanny = unsafe { unix::fork_retrying() };
        if let Ok(0) = nanny {
            // The nanny: it keeps nothing of the zygote's (its socket, the other nannies' reports, the
            // supervisor's end of the executor's socket), forks the executor, then only waits.
            let _ = unix::die_with_parent();
            if nix::unistd::getppid() != zygote_pid {
                exit_now(0);
            }
            let _ = nix::unistd::close(zygote_sock.as_raw_fd());
            for n in nannies.values() {
                let _ = nix::unistd::close(n.report.as_raw_fd());
            }
            drop(theirs);
            drop(report);
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            let nanny_pid = getpid();
            // SAFETY: the nanny is single-threaded, still inside the zygote's PyOS_BeforeFork; the
            // child runs the executor, which never returns.
            let executor = unsafe { unix::fork_retrying() }.unwrap_or(-1);
            if executor == 0 {
                // SAFETY: in the executor, a fork of the zygote's image, with the GIL held.
                unsafe { pyo3::ffi::PyOS_AfterFork_Child() };
                drop(report_w);
                executor::main(py, ours, modules, nanny_pid);
            }
            drop(ours);
            if executor < 0 {
                exit_now(executor::ExitCode::OsError as i32);
            }
            nanny_main(executor, report_w);
        }
        // SAFETY: in the parent after the fork above (or its failure), with the GIL held.
        unsafe { pyo3::ffi::PyOS_AfterFork_Parent() };
        let nanny = nanny?;
        drop(ours);
        drop(report_w);
        let mut pid = [0u8; 4];
        if !read_exact(report.as_fd(), &mut pid) {
            let _ = waitpid(Pid::from_raw(nanny), Some(WaitPidFlag::__WALL));
            return Err(std::io::Error::other("the executor could not be forked"));
        }
        Ok((nanny, Nanny { executor: i32::from_le_bytes(pid), report }, theirs))
    })
}

/// The nanny's life: say the executor's pid, ignore every signal it can (a program's signals to its
/// parent end here), wait for the executor, say how it ended, exit. Runs no Python.
fn nanny_main(executor: libc::pid_t, report: OwnedFd) -> ! {
    let _ = nix::unistd::write(&report, &executor.to_le_bytes());
    unix::ignore_signals();
    use nix::sys::wait::WaitStatus::{Exited, Signaled};
    let status = loop {
        match waitpid(Pid::from_raw(executor), Some(WaitPidFlag::__WALL)) {
            Ok(status @ (Exited(..) | Signaled(..))) => break unix::raw_wait_status(status),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => break libc::SIGKILL,
        }
    };
    let _ = nix::unistd::write(&report, &status.to_le_bytes());
    exit_now(0)
}
