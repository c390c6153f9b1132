//! The test Python environments: venvs with the pinned packages of `tests/requirements.txt` (the main
//! one) and `tests/requirements-newest.txt` (the newest torch), each created once and cached outside
//! the checkout under a name derived from a hash of its requirements and the base interpreter's
//! version, so every later run (CI included) reuses it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

/// The main test environment's `bin/python`, creating the environment first if needed.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    ensure_from(root, "tests/requirements.txt")
}

/// The `bin/python` of the environment of the requirements file `file` (relative to the root).
pub fn ensure_from(root: &Path, file: &str) -> Result<PathBuf> {
    let requirements = root.join(file);
    let pinned =
        std::fs::read(&requirements).with_context(|| format!("reading {}", requirements.display()))?;
    let base = base_python();
    let version = Command::new(&base)
        .args(["-c", "import sys; print(sys.version)"])
        .output()
        .with_context(|| format!("running {base}: a Python 3 is needed to build the test environment"))?;
    if !version.status.success() {
        bail!("{base} does not run");
    }
    let mut hash = Sha256::new();
    hash.update(&pinned);
    hash.update(&version.stdout);
    let key: String = hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let dir = cache_dir().join(format!("testenv-{key}"));
    let python = dir.join("bin/python");
    let marker = dir.join(".runner-complete");
    if marker.exists() {
        eprintln!("xtask: reusing test environment {}", dir.display());
        return Ok(python);
    }
    eprintln!("xtask: creating test environment {} (first run only)", dir.display());
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing half-made {}", dir.display()))?;
    }
    crate::run(Command::new(&base).args(["-m", "venv"]).arg(&dir))?;
    crate::run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
    )?;
    std::fs::write(&marker, &pinned)?;
    Ok(python)
}

/// The interpreter the venv is made from: the one runner's embedded engine is built against.
fn base_python() -> String {
    std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RUNNER_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("runner")
}
