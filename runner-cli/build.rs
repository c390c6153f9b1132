//! Links the `runner` binary to the libpython of the Python it was built against (an rpath), so it
//! does not pick up whichever libpython happens to be on the loader path (Debian ships its own).
fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
    let v = pyo3_build_config::get().version();
    println!("cargo:rustc-env=RUNNER_LINKED_PYTHON={}.{}", v.major, v.minor);
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=PYO3_CONFIG_FILE");
}
