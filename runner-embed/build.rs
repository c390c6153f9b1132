//! Records which Python this crate is linked against (its version and its standard library), so
//! the engine can tell whether the selected interpreter can be embedded or must fall back to the
//! subprocess engine.
fn main() {
    let config = pyo3_build_config::get();
    println!("cargo:rustc-env=RUNNER_LINKED_PYTHON={}.{}", config.version().major, config.version().minor);
    // The build Python's standard library; empty (no check) when it cannot be asked.
    let stdlib = config
        .executable()
        .and_then(|python| {
            std::process::Command::new(python)
                .args(["-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"])
                .output()
                .ok()
        })
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=RUNNER_LINKED_STDLIB={stdlib}");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=PYO3_CONFIG_FILE");
}
