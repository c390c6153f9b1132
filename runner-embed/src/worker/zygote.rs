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
    let modules = match Python::attach(|py| load_executor(py, &setup, &mut phases)) {
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
fn load_executor(py: Python<'_>, setup: &Setup, phases: &mut Vec<(String, f64)>) -> Result<Modules, String> {
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

/// The zygote's loop: fork executors on request, report their exits, stop when the supervisor goes.
fn serve(sock: OwnedFd, modules: Modules) -> Result<(), Box<dyn std::error::Error>> {
    let mut children: HashMap<i32, OwnedFd> = HashMap::new();
    loop {
        let pids: Vec<i32> = children.keys().copied().collect();
        let (sock_ready, exited) = {
            let mut fds = vec![PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
            fds.extend(pids.iter().map(|pid| PollFd::new(children[pid].as_fd(), PollFlags::POLLIN)));
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
            let exited: Vec<i32> =
                pids.iter().zip(&fds[1..]).filter(|(_, fd)| ready(fd)).map(|(pid, _)| *pid).collect();
            (ready(&fds[0]), exited)
        };
        for pid in exited {
            let status = loop {
                match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::__WALL)) {
                    Err(Errno::EINTR) => continue,
                    Ok(status) => break raw_status(status),
                    Err(_) => break 0,
                }
            };
            children.remove(&pid);
            protocol::send(sock.as_fd(), &FromZygote::Exited { pid, status }, &[])?;
        }
        if !sock_ready {
            continue;
        }
        match protocol::recv::<ToZygote>(sock.as_fd())? {
            None => {
                // The supervisor is gone: nothing we started may outlive it.
                for pid in children.keys() {
                    unix::kill_group(*pid as u32);
                }
                return Ok(());
            }
            Some((ToZygote::ForkAndReap { token }, _)) => {
                let seconds = fork_and_reap()?;
                protocol::send(sock.as_fd(), &FromZygote::ForkedAndReaped { token, seconds }, &[])?;
            }
            Some((ToZygote::Fork { token }, _)) => match fork_executor(&sock, &children, &modules) {
                Ok((pid, theirs)) => {
                    let pidfd = unix::pidfd_open(pid as u32)?;
                    children.insert(pid, pidfd);
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

/// Re-encodes a nix wait status as the raw status word the supervisor decodes.
fn raw_status(status: nix::sys::wait::WaitStatus) -> i32 {
    use nix::sys::wait::WaitStatus::*;
    match status {
        Exited(_, code) => (code & 0xff) << 8,
        Signaled(_, sig, core) => sig as i32 | if core { 0x80 } else { 0 },
        _ => 0,
    }
}

/// Forks one executor. Returns its pid and the supervisor's end of its socket.
fn fork_executor(
    zygote_sock: &OwnedFd,
    children: &HashMap<i32, OwnedFd>,
    modules: &Modules,
) -> std::io::Result<(i32, OwnedFd)> {
    let (theirs, ours) = protocol::pair()?;
    let zygote_pid = getpid();
    Python::attach(|py| {
        // SAFETY: PyOS_BeforeFork/AfterFork_* bracket fork() with the GIL held, as CPython requires;
        // the zygote is single-threaded, so the child is a consistent copy.
        unsafe { pyo3::ffi::PyOS_BeforeFork() };
        // SAFETY: see above; the child only runs the executor, which never returns.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the child of the fork above, with the GIL held, as CPython requires.
            unsafe { pyo3::ffi::PyOS_AfterFork_Child() };
            // The child keeps only its own socket: not the zygote's, not its siblings' pidfds.
            let _ = nix::unistd::close(zygote_sock.as_raw_fd());
            for fd in children.values() {
                let _ = nix::unistd::close(fd.as_raw_fd());
            }
            drop(theirs);
            executor::main(py, ours, modules, zygote_pid);
        }
        // SAFETY: in the parent after the fork above (or its failure), with the GIL held.
        unsafe { pyo3::ffi::PyOS_AfterFork_Parent() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        drop(ours);
        Ok((pid, theirs))
    })
}
