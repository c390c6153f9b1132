//! Records which Python this crate is linked against, so the engine can tell whether the selected
//! interpreter can be embedded (same major.minor) or must fall back to the subprocess engine.
fn main() {
    let config = pyo3_build_config::get();
    println!("cargo:rustc-env=RUNNER_LINKED_PYTHON={}.{}", config.version().major, config.version().minor);
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=PYO3_CONFIG_FILE");
}
