//! The C-API side of running programs: [`run_file`] runs a file as `python path` does
//! (pythonrun.c), and the helpers that `executor.py` calls where Python alone cannot do what
//! CPython's own start-up and shutdown do.

use std::ffi::CString;

use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

/// How running the file ended, as `executor.end_program()` takes it.
pub(super) enum FileEnd<'py> {
    /// The program ran to its last line.
    Returned,
    /// An exception was printed (through `sys.excepthook`, as python does).
    Raised {
        /// It was exactly a KeyboardInterrupt (python then dies by SIGINT).
        keyboard_interrupt: bool,
    },
    /// `SystemExit` was raised; the exception, not printed yet.
    SystemExit(Bound<'py, PyAny>),
    /// The file could not be opened; python's message is printed and it exits 2.
    Unopenable,
}

impl<'py> FileEnd<'py> {
    /// The name and payload `end_program(d, how, payload, last)` takes.
    pub(super) fn into_python(self, py: Python<'py>) -> (&'static str, Bound<'py, PyAny>) {
        match self {
            FileEnd::Returned => ("returned", py.None().into_bound(py)),
            FileEnd::Raised { keyboard_interrupt } => {
                ("raised", pyo3::types::PyBool::new(py, keyboard_interrupt).to_owned().into_any())
            }
            FileEnd::SystemExit(exc) => ("system_exit", exc),
            FileEnd::Unopenable => ("unopenable", py.None().into_bound(py)),
        }
    }
}

/// Parses and runs the file as pythonrun.c does for `python path`. Called from Rust, so no Python
/// frame of ours is on the stack: the program's recursion depth and tracebacks are its own.
pub(super) fn run_file<'py>(
    py: Python<'py>,
    path: &std::path::Path,
    globals: &Bound<'py, PyDict>,
) -> PyResult<FileEnd<'py>> {
    use std::os::unix::ffi::OsStrExt;
    // The path's bytes, as the file system has them: a name that is not UTF-8 is still a file name.
    let cpath = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: fopen with valid NUL-terminated strings.
    let fp = unsafe { libc::fopen(cpath.as_ptr(), c"rb".as_ptr()) };
    if fp.is_null() {
        // pymain_run_file's message, then exit status 2.
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let argv0: String = match sys_attr(py, c"orig_argv") {
            Some(argv) => argv.get_item(0)?.extract()?,
            None => String::from("python"),
        };
        // As python shows the path it was given (decoded with the file system encoding).
        let repr = path.as_os_str().into_pyobject(py)?.repr()?.to_string();
        let msg = format!(
            "{argv0}: can't open file {repr}: [Errno {errno}] {}\n",
            nix::errno::Errno::from_raw(errno).desc()
        );
        let _ = nix::unistd::write(std::io::stderr(), msg.as_bytes());
        return Ok(FileEnd::Unopenable);
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
        return Ok(FileEnd::Returned);
    }
    let err = PyErr::take(py).expect("PyRun_FileExFlags failed without an exception");
    // flush_io() runs with the exception set aside, before it is printed.
    flush_io(py);
    if err.is_instance_of::<PySystemExit>(py) {
        // _Py_HandleSystemExit() starts with fflush(stdout): C stdio output written by the program
        // comes out before anything its exit prints.
        // SAFETY: fflush on C's own stdout stream.
        unsafe { libc::fflush(c_stdout) };
        return Ok(FileEnd::SystemExit(err.into_value(py).into_bound(py).into_any()));
    }
    let keyboard_interrupt = err.get_type(py).is(py.get_type::<PyKeyboardInterrupt>());
    err.restore(py);
    // SAFETY: an exception is set; PyErr_PrintEx(1) prints it through sys.excepthook and sets
    // sys.last_type/last_value/last_traceback, exactly as PyErr_Print does for python itself.
    unsafe { pyo3::ffi::PyErr_PrintEx(1) };
    Ok(FileEnd::Raised { keyboard_interrupt })
}

/// `_dict_versions(dicts)`: each dict's version tag, which CPython changes on every mutation of the dict
/// (PEP 509). Reading it costs nothing, so warm mode can tell which module globals a program touched.
#[pyfunction]
pub(super) fn dict_versions(dicts: Vec<Bound<'_, PyDict>>) -> Vec<u64> {
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
pub(super) fn module_with_dict<'py>(name: &str, d: Bound<'py, PyDict>) -> PyResult<Bound<'py, PyModule>> {
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

/// The type of the argument `sys.unraisablehook` gets (`UnraisableHookArgs`, which `sys` does not
/// export), learnt once in the zygote.
static UNRAISABLE_ARGS: std::sync::OnceLock<Py<PyAny>> = std::sync::OnceLock::new();

/// Learns the type of `sys.unraisablehook`'s argument by reporting one exception to a hook of ours;
/// called once in the zygote.
pub(super) fn init_unraisable(py: Python<'_>) -> PyResult<()> {
    let sys = py.import("sys")?;
    let hook = sys.getattr("unraisablehook")?;
    let seen = pyo3::types::PyList::empty(py);
    sys.setattr("unraisablehook", seen.getattr("append")?)?;
    pyo3::exceptions::PyRuntimeError::new_err("probe").restore(py);
    // SAFETY: an exception is set; the GIL is held.
    unsafe { pyo3::ffi::PyErr_WriteUnraisable(py.None().as_ptr()) };
    sys.setattr("unraisablehook", hook)?;
    let args = seen.get_item(0)?;
    let _ = UNRAISABLE_ARGS.set(args.get_type().into_any().unbind());
    Ok(())
}

/// `_write_unraisable(exc, obj)`: what PyErr_WriteUnraisable(obj) does for `exc` at python's shutdown,
/// where no Python frame is running: `sys.unraisablehook` gets the exception with its own traceback
/// ("Exception ignored in: obj"). (PyErr_WriteUnraisable itself, called under executor.py's frame,
/// would add that frame to an exception that has none.)
#[pyfunction]
pub(super) fn write_unraisable(
    py: Python<'_>,
    exc: Bound<'_, pyo3::exceptions::PyBaseException>,
    obj: Bound<'_, PyAny>,
) -> PyResult<()> {
    let args_type = UNRAISABLE_ARGS.get().expect("init_unraisable ran in the zygote").bind(py);
    let tb = exc.getattr("__traceback__")?;
    let args = args_type.call1(((exc.get_type(), &exc, tb, py.None(), &obj),))?;
    let default = sys_attr(py, c"__unraisablehook__");
    let hook = sys_attr(py, c"unraisablehook").filter(|h| !h.is_none()).or_else(|| default.clone());
    let Some(hook) = hook else { return Ok(()) };
    if let Err(e) = hook.call1((&args,)) {
        // As python does when the hook itself fails: that failure, through the default hook.
        let Some(default) = default else { return Ok(()) };
        let value = e.value(py);
        let tb = e.traceback(py).map_or_else(|| py.None().into_bound(py), Bound::into_any);
        let msg = "Exception ignored in sys.unraisablehook";
        let args = args_type.call1(((value.get_type(), value, tb, msg, &hook),))?;
        let _ = default.call1((args,));
    }
    Ok(())
}

/// `sys.<name>` as the interpreter has it (its own sys dict, `_PySys_GetAttr`), whatever a program
/// put in `sys.modules["sys"]`.
fn sys_attr<'py>(py: Python<'py>, name: &std::ffi::CStr) -> Option<Bound<'py, PyAny>> {
    // SAFETY: the GIL is held; PySys_GetObject returns a borrowed reference (or NULL without an
    // exception set), which is turned into an owned one at once.
    unsafe { Bound::from_borrowed_ptr_or_opt(py, pyo3::ffi::PySys_GetObject(name.as_ptr())) }
}

/// flush_std_files() of pylifecycle.c. A failing stdout is reported through
/// PyErr_WriteUnraisable ("Exception ignored in: <...stdout...>"), a failing stderr silently; either
/// makes the exit status 120.
pub(super) fn flush_std_files(py: Python<'_>) -> bool {
    let mut ok = true;
    for (name, report) in [(c"stdout", true), (c"stderr", false)] {
        let Some(f) = sys_attr(py, name) else { continue };
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

pub(super) fn flush_io(py: Python<'_>) {
    for name in [c"stderr", c"stdout"] {
        if let Some(f) = sys_attr(py, name) {
            if !f.is_none() {
                let _ = f.call_method0("flush");
            }
        }
    }
    // Errors while flushing are ignored, as flush_io() ignores them.
    let _ = PyErr::take(py);
}

/// `sys.settrace`, `sys.setprofile`, `sys.gettrace` and `sys.getprofile` themselves, taken in the
/// zygote before any program could replace them.
struct TracingFunctions {
    settrace: Py<PyAny>,
    setprofile: Py<PyAny>,
    gettrace: Py<PyAny>,
    getprofile: Py<PyAny>,
}

static TRACING_FUNCTIONS: std::sync::OnceLock<TracingFunctions> = std::sync::OnceLock::new();

/// A program's trace and profile functions.
type Tracing = (Option<Py<PyAny>>, Option<Py<PyAny>>);

/// The program's trace and profile functions while they are kept aside (see [`suspend_tracing`]).
static PROGRAM_TRACING: std::sync::Mutex<Tracing> = std::sync::Mutex::new((None, None));

/// Takes `sys`'s tracing functions; called once in the zygote.
pub(super) fn init_tracing(py: Python<'_>) -> PyResult<()> {
    let get = |name: &std::ffi::CStr| {
        sys_attr(py, name)
            .map(Bound::unbind)
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err(format!("sys has no {name:?}")))
    };
    let functions = TracingFunctions {
        settrace: get(c"settrace")?,
        setprofile: get(c"setprofile")?,
        gettrace: get(c"gettrace")?,
        getprofile: get(c"getprofile")?,
    };
    let _ = TRACING_FUNCTIONS.set(functions);
    Ok(())
}

fn tracing_functions() -> &'static TracingFunctions {
    TRACING_FUNCTIONS.get().expect("init_tracing ran in the zygote")
}

/// Moves the program's trace and profile functions aside, so that runner's own code after the
/// program (executor.py, warm_state.py) runs unseen by them, and cannot be disturbed by them. Returns
/// whether there was one.
pub(super) fn suspend_tracing(py: Python<'_>) -> PyResult<bool> {
    let f = tracing_functions();
    let keep = |o: Bound<'_, PyAny>| (!o.is_none()).then(|| o.unbind());
    let trace = keep(f.gettrace.bind(py).call0()?);
    let profile = keep(f.getprofile.bind(py).call0()?);
    f.settrace.bind(py).call1((py.None(),))?;
    f.setprofile.bind(py).call1((py.None(),))?;
    let any = trace.is_some() || profile.is_some();
    *PROGRAM_TRACING.lock().unwrap_or_else(|e| e.into_inner()) = (trace, profile);
    Ok(any)
}

/// Puts the program's trace and profile functions back (python's shutdown runs with them).
pub(super) fn resume_tracing(py: Python<'_>) -> PyResult<()> {
    let f = tracing_functions();
    let (trace, profile) = {
        let kept = PROGRAM_TRACING.lock().unwrap_or_else(|e| e.into_inner());
        (kept.0.as_ref().map(|t| t.clone_ref(py)), kept.1.as_ref().map(|p| p.clone_ref(py)))
    };
    if let Some(trace) = trace {
        f.settrace.bind(py).call1((trace,))?;
    }
    if let Some(profile) = profile {
        f.setprofile.bind(py).call1((profile,))?;
    }
    Ok(())
}

/// Forgets the program's tracing functions (its end is over).
pub(super) fn forget_tracing() {
    *PROGRAM_TRACING.lock().unwrap_or_else(|e| e.into_inner()) = (None, None);
}

/// Runs `run` with the program's tracing functions active, then keeps them aside again as they are
/// then (the program's code may have changed them, or a tracer that raised was dropped).
pub(super) fn with_program_tracing<'py, T>(py: Python<'py>, run: impl FnOnce() -> T) -> PyResult<T> {
    resume_tracing(py)?;
    let result = run();
    suspend_tracing(py)?;
    Ok(result)
}

/// `_traced(func, args, kwargs)`: calls `func` as python's shutdown calls what it runs, with the
/// program's trace and profile functions active. Called from executor.py's code, which runs without
/// them; being a built-in, it shows no frame of its own, and the tracing is back on only inside it.
#[pyfunction]
#[pyo3(signature = (func, args, kwargs = None))]
pub(super) fn traced<'py>(
    func: Bound<'py, PyAny>,
    args: Bound<'py, pyo3::types::PyTuple>,
    kwargs: Option<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = func.py();
    with_program_tracing(py, || func.call(args, kwargs.as_ref()))?
}
