//! The worker process: the `runner` binary started with the hidden `__worker` subcommand.
//!
//! It initialises the embedded interpreter as the selected Python would start, imports the preloads and
//! becomes the *zygote*: a single-threaded process that never runs user code and never touches CUDA,
//! whose only job is to fork *executors* on request and report how they end (it is their parent, so
//! only it can read their wait status). An executor is a forked copy of the zygote that runs programs
//! in-process: it receives a program and its output pipes, runs it with python's semantics
//! (`executor.py`), and either exits (fork mode, or when its state cannot be restored) or waits for the
//! next program (warm mode).

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::{getpid, setpgid, Pid};
use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use crate::interp::{self, InterpreterConfig};
use crate::protocol::{self, FromZygote, ProgramDone, RunProgram, Setup, ToZygote};
use crate::unix;

/// The fd on which a worker finds its socket to the supervisor.
pub const WORKER_FD: RawFd = 3;

/// The hidden subcommand that makes the `runner` binary a worker.
pub const WORKER_SUBCOMMAND: &str = "__worker";

const EXECUTOR_PY: &str = include_str!("executor.py");

/// Entry point of a worker process; never returns.
pub fn main() -> ! {
    // The Rust runtime of this binary catches SIGSEGV and SIGBUS (to report stack overflows); a python
    // process has the default dispositions, which programs (and their exit statuses) depend on.
    // SAFETY: resetting dispositions before any other thread exists.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
    // SAFETY: the supervisor placed our end of the socket pair on WORKER_FD before exec.
    let sock = unsafe { OwnedFd::from_raw_fd(WORKER_FD) };
    let code = match zygote(sock) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("runner worker: {e}");
            70
        }
    };
    std::process::exit(code)
}

fn zygote(sock: OwnedFd) -> Result<(), Box<dyn std::error::Error>> {
    let Some((setup, _)) = protocol::recv::<Setup>(sock.as_fd())? else { return Ok(()) };
    let config = InterpreterConfig { executable: setup.executable.clone(), argv0: setup.argv0.clone() };
    let mut phases = Vec::new();
    let mut lap = phase_timer();
    if let Err(e) = interp::initialize(&config) {
        protocol::send(sock.as_fd(), &FromZygote::SetupFailed { message: e.to_string() }, &[])?;
        return Ok(());
    }
    phases.push(("interpreter".to_string(), lap()));
    let executor = match Python::attach(|py| load_executor(py, &setup, &mut phases)) {
        Ok(m) => m,
        Err(message) => {
            protocol::send(sock.as_fd(), &FromZygote::SetupFailed { message }, &[])?;
            return Ok(());
        }
    };
    let version = Python::attach(|_| Python::version_str().to_string());
    protocol::send(sock.as_fd(), &FromZygote::Ready { version, phases }, &[])?;
    serve(sock, executor)
}

/// Loads executor.py as a private module (never in sys.modules), imports the preloads and records
/// the baseline state. Errors come back as the text python would print.
fn load_executor(
    py: Python<'_>,
    setup: &Setup,
    phases: &mut Vec<(String, f64)>,
) -> Result<Py<PyModule>, String> {
    let mut lap = phase_timer();
    let describe = |e: PyErr| {
        let tb = e.traceback(py).and_then(|tb| tb.format().ok()).unwrap_or_default();
        format!("{tb}{e}")
    };
    let module = PyModule::new(py, "_runner_executor").map_err(describe)?;
    let code = CString::new(EXECUTOR_PY).expect("executor.py has no NUL");
    py.run(&code, Some(&module.dict()), None).map_err(describe)?;
    module
        .setattr("_dict_versions", wrap_pyfunction!(dict_versions, py).map_err(describe)?)
        .map_err(describe)?;
    module
        .setattr("_write_unraisable", wrap_pyfunction!(write_unraisable, py).map_err(describe)?)
        .map_err(describe)?;
    module
        .setattr("_module_with_dict", wrap_pyfunction!(module_with_dict, py).map_err(describe)?)
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
    crate::state::install_watch(&module).map_err(describe)?;
    module.call_method1("capture_baseline", (setup.argv0.as_str(),)).map_err(describe)?;
    phases.push(("baseline".to_string(), lap()));
    Ok(module.unbind())
}

/// Seconds since the previous call (or since the timer was made).
fn phase_timer() -> impl FnMut() -> f64 {
    let mut last = std::time::Instant::now();
    move || {
        let now = std::time::Instant::now();
        std::mem::replace(&mut last, now).elapsed().as_secs_f64()
    }
}

/// How running the file ended, for `executor.end_program()`: (status, payload) as its doc says.
type RunStatus<'py> = (i32, Bound<'py, PyAny>);

/// Parses and runs the file as pythonrun.c does for `python path`. Called from Rust, so no Python
/// frame of ours is on the stack: the program's recursion depth and tracebacks are its own.
fn run_file<'py>(py: Python<'py>, path: &str, globals: &Bound<'py, PyDict>) -> PyResult<RunStatus<'py>> {
    let cpath = CString::new(path)?;
    // SAFETY: fopen with valid NUL-terminated strings.
    let fp = unsafe { libc::fopen(cpath.as_ptr(), c"rb".as_ptr()) };
    if fp.is_null() {
        // pymain_run_file's message, then exit status 2.
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let argv0: String = py.import("sys")?.getattr("orig_argv")?.get_item(0)?.extract()?;
        let repr = path.into_pyobject(py)?.repr()?.to_string();
        let msg = format!(
            "{argv0}: can't open file {repr}: [Errno {errno}] {}\n",
            nix::errno::Errno::from_raw(errno).desc()
        );
        let _ = nix::unistd::write(std::io::stderr(), msg.as_bytes());
        return Ok((3, 2i32.into_pyobject(py)?.into_any()));
    }
    let minor = py.version_info().minor as i32;
    let mut flags = pyo3::ffi::PyCompilerFlags { cf_flags: 0, cf_feature_version: minor };
    // SAFETY: fp is an open FILE* that PyRun_FileExFlags closes (closeit = 1); globals is a dict we
    // hold a reference to; the GIL is held.
    let result = unsafe {
        pyo3::ffi::PyRun_FileExFlags(
            fp,
            cpath.as_ptr(),
            pyo3::ffi::Py_file_input,
            globals.as_ptr(),
            globals.as_ptr(),
            1,
            &mut flags,
        )
    };
    if !result.is_null() {
        // SAFETY: we own the new reference PyRun returned.
        unsafe { pyo3::ffi::Py_DECREF(result) };
        flush_io(py);
        return Ok((0, py.None().into_bound(py)));
    }
    let err = PyErr::take(py).expect("PyRun_FileExFlags failed without an exception");
    // flush_io() runs with the exception set aside, before it is printed.
    flush_io(py);
    if err.is_instance_of::<PySystemExit>(py) {
        // _Py_HandleSystemExit() starts with fflush(stdout): C stdio output written by the program
        // comes out before anything its exit prints.
        // SAFETY: fflush on C's own stdout stream.
        unsafe { libc::fflush(c_stdout) };
        return Ok((2, err.into_value(py).into_bound(py).into_any()));
    }
    let keyboard_interrupt = err.get_type(py).is(py.get_type::<PyKeyboardInterrupt>());
    err.restore(py);
    // SAFETY: an exception is set; PyErr_PrintEx(1) prints it through sys.excepthook and sets
    // sys.last_type/last_value/last_traceback, exactly as PyErr_Print does for python itself.
    unsafe { pyo3::ffi::PyErr_PrintEx(1) };
    Ok((1, pyo3::types::PyBool::new(py, keyboard_interrupt).to_owned().into_any()))
}

/// `_dict_versions(dicts)`: each dict's version tag, which CPython changes on every mutation of the dict
/// (PEP 509). Reading it costs nothing, so warm mode can tell which module globals a program touched.
#[pyfunction]
fn dict_versions(dicts: Vec<Bound<'_, PyDict>>) -> Vec<u64> {
    dicts
        .iter()
        .map(|d| {
            // SAFETY: a PyDict's object is a PyDictObject; the field is read, never written.
            #[allow(deprecated)]
            unsafe {
                (*(d.as_ptr() as *mut pyo3::ffi::PyDictObject)).ma_version_tag
            }
        })
        .collect()
}

/// The start of CPython's PyModuleObject (Include/internal/pycore_moduleobject.h, the same from 3.8 to
/// 3.13): the object header, then the module's dict.
#[repr(C)]
struct ModuleObjectHead {
    ob_base: pyo3::ffi::PyObject,
    md_dict: *mut pyo3::ffi::PyObject,
}

/// `_module_with_dict(name, d)`: a new module object whose namespace is the existing dict `d`, as if it
/// had been that module's all along (a module's `__dict__` cannot be replaced from Python). Brings back
/// a `__main__` that died while its globals lived on, for python's own shutdown to find.
#[pyfunction]
fn module_with_dict<'py>(name: &str, d: Bound<'py, PyDict>) -> PyResult<Bound<'py, PyModule>> {
    let module = PyModule::new(d.py(), name)?;
    // SAFETY: `module` is a plain module object (PyModule_Type), whose layout starts with
    // ModuleObjectHead (checked against PyModule_GetDict, which reads md_dict, before anything is
    // written); its old dict is released and `d` gains the reference the module keeps.
    unsafe {
        let head = module.as_ptr() as *mut ModuleObjectHead;
        let old = (*head).md_dict;
        if old.is_null() || old != pyo3::ffi::PyModule_GetDict(module.as_ptr()) {
            return Err(pyo3::exceptions::PySystemError::new_err(
                "this Python's module objects do not start with their dict",
            ));
        }
        pyo3::ffi::Py_INCREF(d.as_ptr());
        (*head).md_dict = d.as_ptr();
        pyo3::ffi::Py_XDECREF(old);
    }
    Ok(module)
}

/// `_write_unraisable(exc, obj)`: PyErr_WriteUnraisable(obj) with `exc` as the current exception.
#[pyfunction]
fn write_unraisable(
    py: Python<'_>,
    exc: Bound<'_, pyo3::exceptions::PyBaseException>,
    obj: Bound<'_, PyAny>,
) {
    PyErr::from_value(exc.into_any()).restore(py);
    // SAFETY: an exception is set and `obj` is alive; the GIL is held.
    unsafe { pyo3::ffi::PyErr_WriteUnraisable(obj.as_ptr()) };
}

/// flush_std_files() of pylifecycle.c. A failing stdout is reported through
/// PyErr_WriteUnraisable ("Exception ignored in: <...stdout...>"), a failing stderr silently; either
/// makes the exit status 120.
fn flush_std_files(py: Python<'_>) -> bool {
    let Ok(sys) = py.import("sys") else { return false };
    let mut ok = true;
    for (name, report) in [("stdout", true), ("stderr", false)] {
        let Ok(f) = sys.getattr(name) else { continue };
        if f.is_none() || file_is_closed(&f) {
            continue;
        }
        if let Err(err) = f.call_method0("flush") {
            ok = false;
            if report {
                err.restore(py);
                // SAFETY: an exception is set and `f` is a live object; the GIL is held.
                unsafe { pyo3::ffi::PyErr_WriteUnraisable(f.as_ptr()) };
            }
        }
    }
    let _ = PyErr::take(py);
    ok
}

/// file_is_closed() of pylifecycle.c: a stream whose `closed` cannot be read counts as open.
fn file_is_closed(f: &Bound<'_, PyAny>) -> bool {
    f.getattr("closed").and_then(|c| c.is_truthy()).unwrap_or(false)
}

unsafe extern "C" {
    /// C's `stdout` stream (glibc and musl export it under this name).
    #[link_name = "stdout"]
    static mut c_stdout: *mut libc::FILE;
}

fn flush_io(py: Python<'_>) {
    if let Ok(sys) = py.import("sys") {
        for name in ["stderr", "stdout"] {
            if let Ok(f) = sys.getattr(name) {
                if !f.is_none() {
                    let _ = f.call_method0("flush");
                }
            }
        }
    }
    // Errors while flushing are ignored, as flush_io() ignores them.
    let _ = PyErr::take(py);
}

/// The zygote's loop: fork executors on request, report their exits, stop when the supervisor goes.
fn serve(sock: OwnedFd, executor: Py<PyModule>) -> Result<(), Box<dyn std::error::Error>> {
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
            Some((ToZygote::Fork { token }, _)) => match fork_executor(&sock, &children, &executor) {
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
    executor: &Py<PyModule>,
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
            executor_main(py, ours, executor, zygote_pid);
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

/// An executor's life: run programs until told to stop, the supervisor goes, or the state cannot be
/// restored. Never returns.
fn executor_main(py: Python<'_>, sock: OwnedFd, executor: &Py<PyModule>, zygote: Pid) -> ! {
    // Its own process group, so a timeout kills the executor and everything the program started; and
    // it dies with the zygote.
    let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
    let _ = unix::die_with_parent();
    if nix::unistd::getppid() != zygote {
        exit_now(0);
    }
    let devnull = match std::fs::File::open("/dev/null") {
        Ok(f) => OwnedFd::from(f),
        Err(_) => exit_now(71),
    };
    let _ = unix::dup2_raw(devnull.as_raw_fd(), 0);
    // The executor's own descriptors move out of the way: a program's first open() gets fd 3, as in a
    // fresh python.
    let (Ok(sock), Ok(devnull)) = (unix::move_high(sock), unix::move_high(devnull)) else { exit_now(71) };
    let executor = executor.bind(py);
    if executor.call_method0("executor_started").is_err() {
        exit_now(71);
    }
    let baseline = crate::state::capture();
    loop {
        let received = py.detach(|| protocol::recv::<RunProgram>(sock.as_fd()));
        let (run, fds) = match received {
            Ok(Some(msg)) => msg,
            _ => exit_now(0),
        };
        let [out, err] = <[OwnedFd; 2]>::try_from(fds).unwrap_or_else(|_| exit_now(72));
        // A previous program may have closed fds 0-2, so the pipes may have arrived on them: move them
        // out of the way before placing them. stdin is /dev/null for every program.
        let (Ok(out), Ok(err)) = (unix::move_high(out), unix::move_high(err)) else { exit_now(72) };
        let _ = unix::dup2_raw(devnull.as_raw_fd(), 0);
        let _ = unix::dup2_raw(out.as_raw_fd(), 1);
        let _ = unix::dup2_raw(err.as_raw_fd(), 2);
        drop((out, err));
        let path = run.path.to_string_lossy().into_owned();
        let me = getpid();
        let started = std::time::Instant::now();
        // A program's context variables (decimal's current context, for one) live in the thread's
        // context: each program runs in a copy of the executor's, which is left when it is over.
        // SAFETY: the GIL is held; the new context is ours until it is exited and released below.
        let context = unsafe { pyo3::ffi::PyContext_CopyCurrent() };
        // SAFETY: the GIL is held and `context` is the new, non-NULL context made above.
        if context.is_null() || unsafe { pyo3::ffi::PyContext_Enter(context) } < 0 {
            exit_now(70);
        }
        let outcome = executor
            .call_method1("prepare", (path.as_str(), run.args.clone(), run.env.clone()))
            .and_then(|d| {
                let d = d.cast_into::<PyDict>()?;
                let (status, payload) = run_file(py, &path, &d)?;
                // A program that called os.fork() without exiting in the child returns here twice: the
                // child ends as a process of its own, never as the executor.
                let last = run.last || getpid() != me;
                let (code, kbd, reusable, reason): (i32, bool, bool, Option<String>) =
                    executor.call_method1("end_program", (&d, status, payload, last))?.extract()?;
                // As at exit, no Python frame is on the stack while the std files are flushed: an error
                // report ("Exception ignored in: <stdout>") has no traceback of ours.
                let flushed = flush_std_files(py);
                // __main__'s fate depends on who else refers to its globals, so we must not.
                drop(d);
                let (code, reusable, reason, real): (i32, bool, Option<String>, bool) =
                    executor.call_method1("finalize", (code, kbd, flushed, reusable, reason))?.extract()?;
                if real {
                    // Something outside __main__ still refers to it: what python does with it is
                    // what the rest of its shutdown does, so that shutdown runs, for real, while the
                    // program's output is still attached. Nothing of Python is used after it: the
                    // process ends in the `last` branch below, without dropping anything.
                    // SAFETY: the GIL is held by this, the main, thread and no Python object we hold
                    // is touched (or dropped) after the interpreter is gone.
                    let finalized = unsafe { pyo3::ffi::Py_FinalizeEx() };
                    let code = if !kbd && (finalized < 0 || !flushed) { 120 } else { code };
                    return Ok((code, kbd, false, reason, true));
                }
                Ok((code, kbd, reusable && !last, reason, last))
            });
        let (code, kbd, reusable, reason, last) = match outcome {
            Ok(v) => v,
            Err(e) => {
                e.print(py);
                exit_now(70);
            }
        };
        let (reusable, reason) = if last {
            (reusable, reason)
        } else {
            // SAFETY: the interpreter is alive (it is finalized only on the `last` path); `context`
            // is the context entered above, released here once.
            let left = unsafe { pyo3::ffi::PyContext_Exit(context) } == 0;
            // SAFETY: the reference PyContext_CopyCurrent gave us, released once, after the exit.
            unsafe { pyo3::ffi::Py_DECREF(context) };
            if left {
                (reusable, reason)
            } else {
                // SAFETY: drops the error PyContext_Exit set.
                unsafe { pyo3::ffi::PyErr_Clear() };
                (false, Some("the program's context could not be left".to_string()))
            }
        };
        // exit() flushes C stdio; a program that wrote through it (C extensions, ctypes) expects that.
        // SAFETY: fflush(NULL) flushes every open output stream.
        unsafe { libc::fflush(std::ptr::null_mut()) };
        let program_time = started.elapsed().as_secs_f64();
        if last {
            // The exit status is the result; the timing is only for benchmarks (a forked child of the
            // program has no supervisor to tell).
            if getpid() == me {
                // Let go of the program's output before the process winds down (tearing down a large
                // address space takes a while), then say how it ended.
                let _ = unix::dup2_raw(devnull.as_raw_fd(), 1);
                let _ = unix::dup2_raw(devnull.as_raw_fd(), 2);
                let done =
                    ProgramDone { returncode: code, reusable: false, reason, program_time, timings: None };
                let _ = protocol::send(sock.as_fd(), &done, &[]);
            }
            if kbd {
                // exit_sigint() in main.c: die by SIGINT so the parent sees the signal.
                // SAFETY: plain signal calls on our own process.
                unsafe {
                    libc::signal(libc::SIGINT, libc::SIG_DFL);
                    libc::kill(libc::getpid(), libc::SIGINT);
                }
            }
            exit_now(code);
        }
        // The program is over: let go of its output so the supervisor sees end of file.
        let _ = unix::dup2_raw(devnull.as_raw_fd(), 1);
        let _ = unix::dup2_raw(devnull.as_raw_fd(), 2);
        let (reusable, reason) = match reusable.then(|| crate::state::restore(&baseline)) {
            Some(Err(why)) => (false, Some(why)),
            _ => (reusable, reason),
        };
        let timings = executor.call_method0("debug_timings").and_then(|t| t.extract()).unwrap_or(None);
        let done = ProgramDone { returncode: code, reusable, reason, program_time, timings };
        if protocol::send(sock.as_fd(), &done, &[]).is_err() || !reusable {
            exit_now(0);
        }
    }
}

/// Ends the process at once: no Rust or Python teardown (the interpreter belongs to the zygote).
fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no shared state.
    unsafe { libc::_exit(code & 0xff) }
}
