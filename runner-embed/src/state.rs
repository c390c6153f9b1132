//! Process state below Python that a program can change and warm mode must put back before the next
//! program: the C environment (`os.putenv`, C extensions' `setenv`), the C locale, and resource limits.
//! One change cannot be undone at all, an added audit hook; an audit hook of our own (in C, so neither
//! visible to nor slowing down Python code beyond a string compare) notices it, and the executor is
//! then replaced.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

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

/// The state a fresh executor has.
pub struct Baseline {
    environ: Vec<Vec<u8>>,
    locale: Option<CString>,
    rlimits: Vec<(libc::rlim_t, libc::rlim_t)>,
}

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

/// Records the state to restore; called once in each new executor.
pub fn capture() -> Baseline {
    AUDIT_HOOK_ADDED.store(false, Ordering::SeqCst);
    Baseline { environ: c_environ(), locale: c_locale(), rlimits: rlimits() }
}

/// Puts the state back; `Err` says what could not be restored.
pub fn restore(b: &Baseline) -> Result<(), String> {
    if AUDIT_HOOK_ADDED.load(Ordering::SeqCst) {
        return Err("the program added an audit hook, which cannot be removed".into());
    }
    if c_environ() != b.environ {
        // SAFETY: the executor is single-threaded here (it only goes on when no thread is left).
        unsafe { libc::clearenv() };
        for entry in &b.environ {
            let (key, value) = match entry.iter().position(|c| *c == b'=') {
                Some(i) => (&entry[..i], &entry[i + 1..]),
                None => (&entry[..], &b""[..]),
            };
            let (Ok(k), Ok(v)) = (CString::new(key), CString::new(value)) else { continue };
            // SAFETY: setenv copies both strings.
            unsafe { libc::setenv(k.as_ptr(), v.as_ptr(), 1) };
        }
        if c_environ() != b.environ {
            return Err("the C environment could not be restored".into());
        }
    }
    if c_locale() != b.locale {
        if let Some(l) = &b.locale {
            // SAFETY: setlocale with a locale string previously returned by setlocale.
            unsafe { libc::setlocale(libc::LC_ALL, l.as_ptr()) };
        }
        if c_locale() != b.locale {
            return Err("the C locale could not be restored".into());
        }
    }
    let now = rlimits();
    for ((resource, was), is) in RESOURCES.iter().zip(&b.rlimits).zip(&now) {
        if was != is {
            let l = libc::rlimit { rlim_cur: was.0, rlim_max: was.1 };
            // SAFETY: setrlimit reads the struct.
            if unsafe { libc::setrlimit(*resource, &l) } != 0 {
                return Err("a resource limit was lowered and cannot be raised again".into());
            }
        }
    }
    Ok(())
}

unsafe extern "C" fn audit_watch(
    event: *const c_char,
    _args: *mut pyo3::ffi::PyObject,
    _data: *mut c_void,
) -> c_int {
    // SAFETY: CPython passes a NUL-terminated event name.
    if unsafe { CStr::from_ptr(event) }.to_bytes() == b"sys.addaudithook" && !called_from_installed_package()
    {
        AUDIT_HOOK_ADDED.store(true, Ordering::SeqCst);
    }
    0
}

/// Whether the Python code running now is part of an installed package (site-packages): an audit
/// hook a library adds (torch's compiler adds one) belongs to library state that persists in the warm
/// executor; one the program adds does not.
fn called_from_installed_package() -> bool {
    use pyo3::ffi;
    // SAFETY: audit hooks run with the GIL held; every reference taken here is released.
    unsafe {
        let frame = ffi::PyEval_GetFrame();
        if frame.is_null() {
            return false;
        }
        let code = ffi::PyFrame_GetCode(frame);
        if code.is_null() {
            return false;
        }
        let name = ffi::PyObject_GetAttrString(code.cast(), c"co_filename".as_ptr());
        ffi::Py_DECREF(code.cast());
        if name.is_null() {
            ffi::PyErr_Clear();
            return false;
        }
        let mut len: ffi::Py_ssize_t = 0;
        let utf8 = ffi::PyUnicode_AsUTF8AndSize(name, &mut len);
        let inside = !utf8.is_null() && {
            let bytes = std::slice::from_raw_parts(utf8.cast::<u8>(), len as usize);
            bytes.windows(15).any(|w| w == b"/site-packages/")
                || bytes.windows(15).any(|w| w == b"/dist-packages/")
        };
        if utf8.is_null() {
            ffi::PyErr_Clear();
        }
        ffi::Py_DECREF(name);
        inside
    }
}

/// Installs the audit watch; called once in the zygote after the interpreter is up.
pub fn install_audit_watch() {
    // SAFETY: PySys_AddAuditHook with a C function that never raises.
    unsafe { PySys_AddAuditHook(Some(audit_watch), std::ptr::null_mut()) };
}
