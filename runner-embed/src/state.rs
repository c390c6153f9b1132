//! The C level of warm state: the entries of `warm_state.py`'s registry that Python cannot reach
//! (level "c": the C environment that `os.putenv` and C extensions' `setenv` change, the C locale,
//! resource limits, an added audit hook, and the context each program runs in), and the watches that
//! tell library machinery from program state (who starts a thread, who registers an exit handler).
//!
//! The registry calls the entries through the object [`c_entries`] makes; their baselines live
//! here, one per executor. An audit hook cannot be removed: an audit hook of our own (in C, so
//! neither visible to nor slowing down Python code beyond a string compare) notices one, and the
//! executor is then retired.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use pyo3::prelude::*;

type AuditHook = unsafe extern "C" fn(*const c_char, *mut pyo3::ffi::PyObject, *mut c_void) -> c_int;

extern "C" {
    static mut environ: *mut *mut c_char;
    // In libpython since 3.8; pyo3-ffi does not declare it.
    fn PySys_AddAuditHook(hook: Option<AuditHook>, data: *mut c_void) -> c_int;
}

/// Set when a program adds an audit hook (there is no way to remove one).
static AUDIT_HOOK_ADDED: AtomicBool = AtomicBool::new(false);

const RESOURCES: &[libc::__rlimit_resource_t] = &[
    libc::RLIMIT_CPU,
    libc::RLIMIT_FSIZE,
    libc::RLIMIT_DATA,
    libc::RLIMIT_STACK,
    libc::RLIMIT_CORE,
    libc::RLIMIT_RSS,
    libc::RLIMIT_NPROC,
    libc::RLIMIT_NOFILE,
    libc::RLIMIT_MEMLOCK,
    libc::RLIMIT_AS,
    libc::RLIMIT_LOCKS,
    libc::RLIMIT_SIGPENDING,
    libc::RLIMIT_MSGQUEUE,
    libc::RLIMIT_NICE,
    libc::RLIMIT_RTPRIO,
    libc::RLIMIT_RTTIME,
];

/// What a fresh executor has at the C level, entry by entry (captured by each entry's `started`).
#[derive(Default)]
struct Baseline {
    environ: Option<Vec<Vec<u8>>>,
    locale: Option<Option<CString>>,
    rlimits: Option<Vec<(libc::rlim_t, libc::rlim_t)>>,
}

static BASELINE: Mutex<Baseline> = Mutex::new(Baseline { environ: None, locale: None, rlimits: None });

/// The context the current program runs in (entered by the `context` entry's `prepare`).
static CONTEXT: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

fn c_environ() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // SAFETY: `environ` is the process's NULL-terminated array of NUL-terminated strings; the executor
    // is single-threaded while it reads it.
    unsafe {
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            out.push(CStr::from_ptr(*p).to_bytes().to_vec());
            p = p.add(1);
        }
    }
    out.sort();
    out
}

fn c_locale() -> Option<CString> {
    // SAFETY: setlocale with NULL only queries; the result is copied at once.
    let p = unsafe { libc::setlocale(libc::LC_ALL, std::ptr::null()) };
    // SAFETY: a non-NULL result of setlocale is a NUL-terminated string, valid until the next call.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_owned())
}

fn rlimits() -> Vec<(libc::rlim_t, libc::rlim_t)> {
    RESOURCES
        .iter()
        .map(|r| {
            let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: getrlimit fills the struct.
            unsafe { libc::getrlimit(*r, &mut l) };
            (l.rlim_cur, l.rlim_max)
        })
        .collect()
}

fn restore_environ(was: &[Vec<u8>]) -> Option<String> {
    if c_environ() == was {
        return None;
    }
    // SAFETY: the executor is single-threaded here (it only goes on when no thread is left).
    unsafe { libc::clearenv() };
    for entry in was {
        let (key, value) = match entry.iter().position(|c| *c == b'=') {
            Some(i) => (&entry[..i], &entry[i + 1..]),
            None => (&entry[..], &b""[..]),
        };
        let (Ok(k), Ok(v)) = (CString::new(key), CString::new(value)) else { continue };
        // SAFETY: setenv copies both strings.
        unsafe { libc::setenv(k.as_ptr(), v.as_ptr(), 1) };
    }
    (c_environ() != was).then(|| "the C environment could not be restored".to_string())
}

fn restore_locale(was: &Option<CString>) -> Option<String> {
    if c_locale() == *was {
        return None;
    }
    if let Some(l) = was {
        // SAFETY: setlocale with a locale string previously returned by setlocale.
        unsafe { libc::setlocale(libc::LC_ALL, l.as_ptr()) };
    }
    (c_locale() != *was).then(|| "the C locale could not be restored".to_string())
}

fn restore_rlimits(was: &[(libc::rlim_t, libc::rlim_t)]) -> Option<String> {
    let now = rlimits();
    for ((resource, was), is) in RESOURCES.iter().zip(was).zip(&now) {
        if was != is {
            let l = libc::rlimit { rlim_cur: was.0, rlim_max: was.1 };
            // SAFETY: setrlimit reads the struct.
            if unsafe { libc::setrlimit(*resource, &l) } != 0 {
                return Some("a resource limit was lowered and cannot be raised again".into());
            }
        }
    }
    None
}

/// The C-level entries of the warm-state registry, as `warm_state.py` calls them (its `_c`).
#[pyclass(frozen, name = "CEntries")]
struct CEntries;

#[pymethods]
impl CEntries {
    /// Records entry `name`'s baseline; called in each new executor.
    fn capture(&self, name: &str) -> PyResult<()> {
        let mut b = BASELINE.lock().unwrap_or_else(|e| e.into_inner());
        match name {
            "c_environ" => b.environ = Some(c_environ()),
            "c_locale" => b.locale = Some(c_locale()),
            "rlimits" => b.rlimits = Some(rlimits()),
            "audit_hooks" => AUDIT_HOOK_ADDED.store(false, Ordering::SeqCst),
            _ => return Err(unknown(name)),
        }
        Ok(())
    }

    /// Puts entry `name`'s state back; returns what to say when it cannot.
    fn restore(&self, name: &str) -> PyResult<Option<String>> {
        let b = BASELINE.lock().unwrap_or_else(|e| e.into_inner());
        let missing = || pyo3::exceptions::PyRuntimeError::new_err(format!("{name} has no baseline"));
        Ok(match name {
            "c_environ" => restore_environ(b.environ.as_ref().ok_or_else(missing)?),
            "c_locale" => restore_locale(b.locale.as_ref().ok_or_else(missing)?),
            "rlimits" => restore_rlimits(b.rlimits.as_ref().ok_or_else(missing)?),
            "audit_hooks" => AUDIT_HOOK_ADDED
                .load(Ordering::SeqCst)
                .then(|| "the program added an audit hook, which cannot be removed".to_string()),
            _ => return Err(unknown(name)),
        })
    }

    /// Enters a copy of the current context: each program's context variables (decimal's current
    /// context, for one) live in a context of its own, left when the program is over.
    fn enter_context(&self, py: Python<'_>) -> PyResult<()> {
        // SAFETY: the GIL is held; PyContext_CopyCurrent returns a new reference (or NULL with an
        // error set), which `Bound::from_owned_ptr_or_err` takes over.
        let context = unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyContext_CopyCurrent()) }?;
        // SAFETY: the GIL is held and `context` is a live context object.
        if unsafe { pyo3::ffi::PyContext_Enter(context.as_ptr()) } < 0 {
            return Err(PyErr::fetch(py));
        }
        *CONTEXT.lock().unwrap_or_else(|e| e.into_inner()) = Some(context.unbind());
        Ok(())
    }

    /// Leaves the program's context; returns what to say when it cannot be left.
    fn exit_context(&self, py: Python<'_>) -> Option<String> {
        let Some(context) = CONTEXT.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Some("the program's context was never entered".into());
        };
        // SAFETY: the GIL is held and `context` is the context entered by `enter_context`.
        if unsafe { pyo3::ffi::PyContext_Exit(context.as_ptr()) } < 0 {
            let _ = PyErr::take(py);
            return Some("the program's context could not be left".into());
        }
        None
    }
}

fn unknown(name: &str) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(format!("no C-level warm-state entry is called {name:?}"))
}

/// The object through which `warm_state.py` reaches the C-level entries.
pub fn c_entries(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    Ok(Bound::new(py, CEntries)?.into_any())
}

unsafe extern "C" fn audit_watch(
    event: *const c_char,
    args: *mut pyo3::ffi::PyObject,
    _data: *mut c_void,
) -> c_int {
    // SAFETY: CPython passes a NUL-terminated event name.
    match unsafe { CStr::from_ptr(event) }.to_bytes() {
        b"sys.addaudithook" if started_by() != Some(Starter::Library) => {
            AUDIT_HOOK_ADDED.store(true, Ordering::SeqCst);
        }
        // threading.Thread.start() on Python 3.13+ (before, `start_new_thread` below sees it). The
        // thread object is the `__self__` of the function to run (its `_bootstrap`).
        b"_thread.start_joinable_thread" if started_by() == Some(Starter::Library) => {
            // SAFETY: the GIL is held; `args` is the event's argument tuple.
            unsafe { note_library_thread(args) };
        }
        _ => {}
    }
    0
}

/// Who set something going: the first frame of the Python stack, from the innermost out, whose code
/// is neither the standard library's nor frozen.
#[derive(PartialEq, Eq, Debug)]
enum Starter {
    /// An installed package (site-packages): library machinery that persists in the warm executor,
    /// as it persists in any long-lived python process (torch's compiler adds an audit hook and
    /// starts its compile-worker pool's threads).
    Library,
    /// The program, or anything else outside the standard library.
    Program,
}

/// Where the standard library lives and the set (warm_state.py's `_library_threads`) that threads
/// started by installed packages go into; given once, in the zygote.
struct Watch {
    stdlib: Vec<u8>,
    library_threads: pyo3::Py<pyo3::PyAny>,
    /// warm_state.py's `_library_exit_handlers`: (func, args, kwargs) of installed packages.
    library_exit_handlers: pyo3::Py<pyo3::PyAny>,
}

static WATCH: std::sync::OnceLock<Watch> = std::sync::OnceLock::new();

fn started_by() -> Option<Starter> {
    use pyo3::ffi;
    let stdlib = WATCH.get().map(|w| w.stdlib.as_slice());
    // SAFETY: audit hooks run with the GIL held; PyEval_GetFrame's frame is borrowed, every frame
    // PyFrame_GetBack returns is owned and released here.
    unsafe {
        let mut frame = ffi::PyEval_GetFrame();
        if frame.is_null() {
            return None;
        }
        ffi::Py_INCREF(frame.cast());
        let mut verdict = None;
        while !frame.is_null() {
            if let Some(file) = code_filename(frame) {
                let in_stdlib = file.starts_with(b"<frozen")
                    || stdlib.is_some_and(|s| file.starts_with(s) && !is_installed(&file));
                if !in_stdlib {
                    verdict = Some(if is_installed(&file) { Starter::Library } else { Starter::Program });
                }
            }
            let back = ffi::PyFrame_GetBack(frame);
            ffi::Py_DECREF(frame.cast());
            frame = back;
            if verdict.is_some() {
                break;
            }
        }
        if !frame.is_null() {
            ffi::Py_DECREF(frame.cast());
        }
        verdict
    }
}

fn is_installed(file: &[u8]) -> bool {
    file.windows(15).any(|w| w == b"/site-packages/" || w == b"/dist-packages/")
}

/// The `co_filename` of a frame's code, as bytes.
///
/// # Safety
/// The GIL is held and `frame` is a live frame.
unsafe fn code_filename(frame: *mut pyo3::ffi::PyFrameObject) -> Option<Vec<u8>> {
    use pyo3::ffi;
    // SAFETY: the caller holds the GIL and `frame` is live; every new reference taken here is
    // released here, and the UTF-8 buffer is copied before `name` is released.
    unsafe {
        let code = ffi::PyFrame_GetCode(frame);
        if code.is_null() {
            return None;
        }
        let name = ffi::PyObject_GetAttrString(code.cast(), c"co_filename".as_ptr());
        ffi::Py_DECREF(code.cast());
        if name.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        let mut len: ffi::Py_ssize_t = 0;
        let utf8 = ffi::PyUnicode_AsUTF8AndSize(name, &mut len);
        let file = if utf8.is_null() {
            ffi::PyErr_Clear();
            None
        } else {
            Some(std::slice::from_raw_parts(utf8.cast::<u8>(), len as usize).to_vec())
        };
        ffi::Py_DECREF(name);
        file
    }
}

/// Adds the thread being started to warm_state.py's set of library threads.
///
/// # Safety
/// The GIL is held and `args` is the argument tuple of a thread-start audit event.
unsafe fn note_library_thread(args: *mut pyo3::ffi::PyObject) {
    use pyo3::ffi;
    let Some(watch) = WATCH.get() else { return };
    // SAFETY: the caller holds the GIL and `args` is the event's argument tuple (checked below);
    // borrowed items are used only while the tuple lives, new references are released.
    unsafe {
        if args.is_null() || ffi::PyTuple_Check(args) == 0 || ffi::PyTuple_Size(args) < 1 {
            return;
        }
        let function = ffi::PyTuple_GetItem(args, 0);
        let thread = ffi::PyObject_GetAttrString(function, c"__self__".as_ptr());
        if thread.is_null() {
            ffi::PyErr_Clear();
            return;
        }
        let added =
            ffi::PyObject_CallMethod(watch.library_threads.as_ptr(), c"add".as_ptr(), c"O".as_ptr(), thread);
        if added.is_null() {
            ffi::PyErr_Clear();
        } else {
            ffi::Py_DECREF(added);
        }
        ffi::Py_DECREF(thread);
    }
}

/// `_thread.start_new_thread`, which threading's `Thread.start()` calls through the module global
/// `threading._start_new_thread` in Python 3.8-3.12 (3.13 audits thread starts instead).
static START_NEW_THREAD: std::sync::OnceLock<pyo3::Py<pyo3::PyAny>> = std::sync::OnceLock::new();

/// Stands in for `threading._start_new_thread`: notes a thread that an installed package starts,
/// then starts it. A built-in function, so no frame of runner's shows in a traceback.
#[pyo3::pyfunction]
#[pyo3(signature = (function, args, kwargs = None))]
fn start_new_thread<'py>(
    py: pyo3::Python<'py>,
    function: pyo3::Bound<'py, pyo3::PyAny>,
    args: pyo3::Bound<'py, pyo3::PyAny>,
    kwargs: Option<pyo3::Bound<'py, pyo3::PyAny>>,
) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::PyAny>> {
    use pyo3::prelude::*;
    if started_by() == Some(Starter::Library) {
        if let (Some(watch), Ok(thread)) = (WATCH.get(), function.getattr("__self__")) {
            let _ = watch.library_threads.bind(py).call_method1("add", (thread,));
        }
    }
    let real = START_NEW_THREAD.get().expect("installed before use").bind(py);
    match kwargs {
        Some(kwargs) => real.call1((function, args, kwargs)),
        None => real.call1((function, args)),
    }
}

/// `atexit.register` and `atexit.unregister` themselves.
static ATEXIT: std::sync::OnceLock<(pyo3::Py<pyo3::PyAny>, pyo3::Py<pyo3::PyAny>)> =
    std::sync::OnceLock::new();

/// Whether the Python code that called the running built-in is an installed package's.
fn called_from_installed_package() -> bool {
    // SAFETY: called from a built-in, with the GIL held; the frame is borrowed.
    unsafe {
        let frame = pyo3::ffi::PyEval_GetFrame();
        !frame.is_null() && code_filename(frame).is_some_and(|f| is_installed(&f))
    }
}

/// Stands in for `atexit.register`. An exit handler that an installed package registers (torch's
/// compiler registers the shutdown of its compile-worker pool when its modules are imported) is library
/// machinery: it goes to warm_state.py's `_library_exit_handlers`, which a warm program's exit leaves
/// alone, instead of running at the end of the program that happened to import the package.
#[pyo3::pyfunction]
#[pyo3(name = "register", signature = (func, *args, **kwargs))]
fn atexit_register<'py>(
    func: pyo3::Bound<'py, pyo3::PyAny>,
    args: pyo3::Bound<'py, pyo3::types::PyTuple>,
    kwargs: Option<pyo3::Bound<'py, pyo3::types::PyDict>>,
) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::PyAny>> {
    use pyo3::prelude::*;
    let py = func.py();
    if called_from_installed_package() {
        if let Some(watch) = WATCH.get() {
            let kwargs = match kwargs {
                Some(k) => k.into_any(),
                None => pyo3::types::PyDict::new(py).into_any(),
            };
            watch.library_exit_handlers.bind(py).call_method1("append", ((&func, args, kwargs),))?;
            return Ok(func);
        }
    }
    let (register, _) = ATEXIT.get().expect("installed before use");
    let mut call = vec![func];
    call.extend(args.iter());
    register.bind(py).call(pyo3::types::PyTuple::new(py, call)?, kwargs.as_ref())
}

/// Stands in for `atexit.unregister`: also forgets a library's handler.
#[pyo3::pyfunction]
#[pyo3(name = "unregister")]
fn atexit_unregister<'py>(
    func: pyo3::Bound<'py, pyo3::PyAny>,
) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::PyAny>> {
    use pyo3::prelude::*;
    let py = func.py();
    if let Some(watch) = WATCH.get() {
        let handlers = watch.library_exit_handlers.bind(py);
        let kept = pyo3::types::PyList::empty(py);
        for entry in handlers.try_iter()? {
            let entry = entry?;
            if !entry.get_item(0)?.eq(&func)? {
                kept.append(entry)?;
            }
        }
        handlers.call_method1("__setitem__", (pyo3::types::PySlice::full(py), kept))?;
    }
    let (_, unregister) = ATEXIT.get().expect("installed before use");
    unregister.bind(py).call1((func,))
}

/// Installs the watches; called once in the zygote after the preloads and before the baseline is
/// recorded (so that the baseline holds them), with warm_state.py loaded (its `_STDLIB`,
/// `_library_threads` and `_library_exit_handlers`): the audit hook, and the thread-start watch of
/// Pythons before 3.13.
pub fn install_watch(state: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    let py = state.py();
    let mut stdlib = state.getattr("_STDLIB")?.extract::<String>()?.into_bytes();
    stdlib.push(b'/');
    let _ = WATCH.set(Watch {
        stdlib,
        library_threads: state.getattr("_library_threads")?.unbind(),
        library_exit_handlers: state.getattr("_library_exit_handlers")?.unbind(),
    });
    let atexit = py.import("atexit")?;
    let _ = ATEXIT.set((atexit.getattr("register")?.unbind(), atexit.getattr("unregister")?.unbind()));
    atexit.setattr("register", pyo3::wrap_pyfunction!(atexit_register, py)?)?;
    atexit.setattr("unregister", pyo3::wrap_pyfunction!(atexit_unregister, py)?)?;
    let threading = py.import("threading")?;
    if let Ok(real) = threading.getattr("_start_new_thread") {
        let _ = START_NEW_THREAD.set(real.unbind());
        threading.setattr("_start_new_thread", pyo3::wrap_pyfunction!(start_new_thread, py)?)?;
    }
    // SAFETY: PySys_AddAuditHook with a C function that never raises.
    unsafe { PySys_AddAuditHook(Some(audit_watch), std::ptr::null_mut()) };
    Ok(())
}
