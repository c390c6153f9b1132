//! Starting the embedded interpreter as the selected Python would start.
//!
//! The settings are plain data ([`InterpreterConfig`]) turned into CPython's `PyConfig` one field at a
//! time, each step named so a failure says which ("setting executable"). We start from
//! `PyConfig_InitPythonConfig`, the configuration of the `python` command itself: `PYTHON*` variables
//! are honoured, signal handlers are installed (SIGINT raises KeyboardInterrupt, SIGPIPE and SIGXFSZ are
//! ignored), and the prefix and `sys.path` are computed from `executable` exactly as python computes
//! them (a venv is found through its `pyvenv.cfg`, `site` and `.pth` files are processed). Setting
//! `executable` to the real interpreter is what makes `sys.executable` right, so programs that spawn
//! `sys.executable` (multiprocessing's spawn, torch inductor's compile workers) start real pythons.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};

use pyo3::ffi;

/// How to start the interpreter.
#[derive(Clone, Debug)]
pub struct InterpreterConfig {
    /// The real interpreter binary (`sys.executable`); the prefix is discovered from it.
    pub executable: PathBuf,
    /// The name the interpreter was invoked as (`sys.orig_argv[0]`).
    pub argv0: String,
}

/// A failure to start the interpreter.
#[derive(Debug, thiserror::Error)]
#[error("starting the embedded interpreter failed while {step}: {message}")]
pub struct InitError {
    step: &'static str,
    message: String,
}

/// One interpreter per process: this guards against a second initialisation.
static STATE: AtomicU8 = AtomicU8::new(0);

fn check(step: &'static str, status: ffi::PyStatus) -> Result<(), InitError> {
    // SAFETY: PyStatus_Exception only reads the status value.
    if unsafe { ffi::PyStatus_Exception(status) } == 0 {
        return Ok(());
    }
    let message = if status.err_msg.is_null() {
        "unknown error".to_string()
    } else {
        // SAFETY: err_msg is a static NUL-terminated string set by CPython.
        unsafe { std::ffi::CStr::from_ptr(status.err_msg) }.to_string_lossy().into_owned()
    };
    Err(InitError { step, message })
}

fn cstring(step: &'static str, bytes: &[u8]) -> Result<CString, InitError> {
    CString::new(bytes).map_err(|_| InitError { step, message: "contains a NUL byte".into() })
}

/// Initialises CPython in this process. Afterwards the calling thread does not hold the GIL; use
/// `Python::attach`.
pub fn initialize(config: &InterpreterConfig) -> Result<(), InitError> {
    if STATE.swap(1, Ordering::SeqCst) != 0 {
        return Err(InitError { step: "starting", message: "the interpreter is already initialised".into() });
    }
    let executable = cstring("setting executable", config.executable.as_os_str().as_bytes())?;
    let argv0 = cstring("setting program_name", config.argv0.as_bytes())?;
    // SAFETY: a PyConfig is initialised by PyConfig_InitPythonConfig before any field is read, every
    // string is copied by PyConfig_SetBytesString, and the config is cleared on every path.
    unsafe {
        let mut pc = std::mem::MaybeUninit::<ffi::PyConfig>::zeroed();
        ffi::PyConfig_InitPythonConfig(pc.as_mut_ptr());
        let pc = pc.assume_init_mut();
        let result = (|| {
            check(
                "setting executable",
                ffi::PyConfig_SetBytesString(pc, &mut pc.executable, executable.as_ptr()),
            )?;
            check(
                "setting program_name",
                ffi::PyConfig_SetBytesString(pc, &mut pc.program_name, argv0.as_ptr()),
            )?;
            // No command line to parse: the worker's own argv is not python's.
            pc.parse_argv = 0;
            check("initialising", ffi::Py_InitializeFromConfig(pc))
        })();
        ffi::PyConfig_Clear(pc);
        result?;
        // Hand the GIL back so that Python::attach can take it.
        ffi::PyEval_SaveThread();
    }
    Ok(())
}
