//! End-to-end tests of what only the embedded engine has to get right: starting the interpreter as the
//! selected Python starts (executable, prefix, sys.path, flags, PYTHON* variables), the rpath to the
//! right libpython, preloads, the fallback to the subprocess engine, and leaving nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use runner_tests::{json, require_module, returncode, runner, runner_bin, test_python, text};

fn program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs").join(name)
}

/// `runner validate --json --mode MODE PROGRAM` with extra environment.
fn validate(mode: &str, prog: &Path, env: &[(&str, &str)], extra: &[&str]) -> serde_json::Value {
    let mut cmd = runner();
    cmd.args(["validate", "--json", "--mode", mode]).args(extra).arg(prog);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run runner");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    json(&out)
}

fn reference(prog: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    runner_tests::close_inherited_fds();
    let mut cmd = Command::new(test_python());
    cmd.arg(prog).stdin(Stdio::null()).env_remove("CUDA_VISIBLE_DEVICES");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (returncode(&out), text(&out.stdout), text(&out.stderr))
}

fn triple(v: &serde_json::Value) -> (i32, String, String) {
    (
        v["returncode"].as_i64().unwrap() as i32,
        v["stdout"].as_str().unwrap().to_string(),
        v["stderr"].as_str().unwrap().to_string(),
    )
}

#[test]
fn interpreter_starts_as_the_selected_python_under_every_python_variable() {
    let envs: &[&[(&str, &str)]] = &[
        &[],
        &[("PYTHONHASHSEED", "0")],
        &[("PYTHONHASHSEED", "123"), ("PYTHONUNBUFFERED", "1")],
        &[("PYTHONPATH", "/opt/nowhere:/tmp"), ("PYTHONHASHSEED", "1")],
        &[("PYTHONSAFEPATH", "1"), ("PYTHONHASHSEED", "1")],
        &[("PYTHONIOENCODING", "latin-1:backslashreplace"), ("PYTHONHASHSEED", "1")],
        &[("PYTHONWARNINGS", "error::DeprecationWarning"), ("PYTHONHASHSEED", "1")],
        &[("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONHASHSEED", "1"), ("PYTHONFAULTHANDLER", "1")],
        &[("PYTHONNOUSERSITE", "1"), ("PYTHONHASHSEED", "2"), ("PYTHONOPTIMIZE", "2")],
    ];
    let prog = program("interpreter_facts.py");
    for env in envs {
        // The caller's environment may carry PYTHON* variables of its own (PYTHONUNBUFFERED is common):
        // each case starts from none of them.
        let mut full: Vec<(&str, &str)> = vec![("PYTHONUNBUFFERED", ""), ("PYTHONDONTWRITEBYTECODE", "")];
        full.retain(|(k, _)| !env.iter().any(|(k2, _)| k2 == k));
        full.extend_from_slice(env);
        let want = reference(&prog, &full);
        assert_eq!(want.0, 0, "reference failed: {}", want.2);
        for mode in ["fork", "warm"] {
            let got = triple(&validate(mode, &prog, &full, &[]));
            assert_eq!(got, want, "mode {mode}, environment {env:?}");
        }
    }
}

#[test]
fn embedded_interpreter_imports_numpy_and_torch_from_the_test_environment() {
    require_module("numpy");
    require_module("torch");
    for (prog, preload) in [("numpy_sum.py", "numpy"), ("torch_cpu.py", "torch")] {
        let prog = program(prog);
        let want = reference(&prog, &[]);
        assert_eq!(want.0, 0, "reference failed: {}", want.2);
        for mode in ["fork", "warm"] {
            for preload in ["", preload] {
                let v = validate(mode, &prog, &[], &["--preload", preload]);
                assert_eq!(triple(&v), want, "mode {mode}, preload {preload:?}");
            }
        }
    }
}

#[test]
fn binary_loads_the_libpython_of_the_python_it_was_built_for() {
    let ldd = Command::new("ldd").arg(runner_bin()).output().expect("run ldd");
    let text = text(&ldd.stdout);
    let line = text.lines().find(|l| l.contains("libpython")).expect("runner links libpython");
    let resolved = line.split("=>").nth(1).unwrap().split_whitespace().next().unwrap();
    // The Python the build used: PYO3_PYTHON, else python3 on PATH.
    let build_python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
    let libdir = Command::new(build_python)
        .args(["-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"])
        .output()
        .unwrap();
    let libdir = runner_tests::text(&libdir.stdout).trim().to_string();
    assert!(resolved.starts_with(&libdir), "libpython resolves to {resolved}, not under {libdir}");
}

#[test]
fn a_preload_that_fails_is_a_setup_error_naming_it() {
    let out = runner()
        .args(["validate", "--json", "--preload", "no_such_module_xyz"])
        .arg(program("numpy_sum.py"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("no_such_module_xyz"), "{err}");
}

#[test]
fn a_preload_that_leaves_forked_executors_without_cuda_is_a_setup_error_naming_it() {
    // torch refuses CUDA in a child forked after its parent initialised CUDA or asked the CUDA
    // runtime anything; the fake modules stand in for such imports on a machine without a GPU.
    let site = program("fake_torch");
    for (module, what) in [
        ("fake_cuda_init", "initialised CUDA"),
        ("fake_cuda_query", "asked the CUDA runtime for its devices"),
    ] {
        for mode in ["warm", "fork"] {
            let out = runner()
                .env("PYTHONPATH", &site)
                .args(["run", "--mode", mode, "--preload", module])
                .arg(program("numpy_sum.py"))
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{module}, {mode}");
            let err = text(&out.stderr);
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(err.contains(&format!("cannot preload {module}: importing it {what}")), "{err}");
        }
    }
}

#[test]
fn preloads_count_cuda_devices_through_nvml_and_programs_see_their_own_environment() {
    // PYTORCH_NVML_BASED_CUDA_CHECK=1 while the preloads are imported (torch.cuda.is_available()
    // then leaves fork alone), and the program's environment as it was given.
    let site = program("fake_torch");
    let prog = program("nvml_check.py");
    for (given, program_sees) in [(None, "None"), (Some("0"), "0")] {
        let mut cmd = runner();
        cmd.env("PYTHONPATH", &site).env_remove("PYTORCH_NVML_BASED_CUDA_CHECK");
        if let Some(v) = given {
            cmd.env("PYTORCH_NVML_BASED_CUDA_CHECK", v);
        }
        let out = cmd.args(["run", "--preload", "fake_nvml_seen"]).arg(&prog).output().unwrap();
        let want = format!("preload saw {}\nprogram sees {program_sees}\n", given.unwrap_or("1"));
        assert!(
            text(&out.stdout).contains(&want),
            "given {given:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn another_python_version_falls_back_to_the_subprocess_engine_with_a_warning() {
    // Any CPython of another version will do: pyenv keeps several on machines of this kind.
    let other = other_python_version().unwrap_or_else(|| {
        panic!(
            "this test needs a Python other than {} (pyenv versions or /usr/bin/python3.*)",
            runner_tests::linked_python()
        )
    });
    assert_falls_back_to_subprocess(&other, &program("numpy_sum.py"), "is Python ");
}

#[test]
fn another_build_of_the_same_python_version_falls_back_to_the_subprocess_engine_with_a_warning() {
    // Debian's python3.11 (3.11.2, its standard library with _socket built into the binary) beside
    // the pyenv 3.11 runner is built against: the same major.minor, another interpreter. Embedded,
    // it started on a standard library that is not the embedded libpython's ("No module named
    // '_socket'"). Machines of this kind (CI's included) have it from the python3.11-minimal package.
    let debian = Path::new("/usr/bin/python3.11");
    if !debian.exists() {
        assert!(std::env::var_os("CI").is_none(), "{} is missing: CI machines have it", debian.display());
        eprintln!("skipped: {} is not installed here", debian.display());
        return;
    }
    let version = |python: &Path| {
        let out = Command::new(python).args(["-c", "import sys; print(sys.version)"]).output().unwrap();
        text(&out.stdout)
    };
    assert_ne!(
        version(debian),
        version(&test_python()),
        "this test needs {} to be another build than the test Python",
        debian.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("uses_socket.py");
    std::fs::write(&prog, "import socket, sys\nprint(sys.version)\nprint(socket.AF_INET.name, sys.prefix)\n")
        .unwrap();
    assert_falls_back_to_subprocess(debian, &prog, "but this runner embeds Python 3.");
}

/// `runner validate --json --mode warm` under `python` warns (the warning containing `says`), runs
/// the program in subprocess mode, and gives what `python` itself gives.
fn assert_falls_back_to_subprocess(python: &Path, prog: &Path, says: &str) {
    let out = runner()
        .env("RUNNER_PYTHON", python)
        .args(["validate", "--json", "--mode", "warm"])
        .arg(prog)
        .output()
        .unwrap();
    let v = json(&out);
    let ctx = format!("--python {}", python.display());
    assert_eq!(v["mode"], "subprocess", "{ctx}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("runner: warning: ")
            && stderr.contains(says)
            && stderr.contains("using --mode subprocess"),
        "{ctx}: {stderr}"
    );
    let want = Command::new(python).arg(prog).stdin(Stdio::null()).output().unwrap();
    assert_eq!(triple(&v), (returncode(&want), text(&want.stdout), text(&want.stderr)), "{ctx}");
}

/// An interpreter whose major.minor differs from the one runner embeds.
fn other_python_version() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(versions) = pyenv_root.map(|r| r.join("versions")) {
        if let Ok(entries) = std::fs::read_dir(versions) {
            candidates.extend(entries.filter_map(|e| e.ok()).map(|e| e.path().join("bin/python3")));
        }
    }
    candidates
        .extend(["3.12", "3.13", "3.10", "3.9"].iter().map(|v| PathBuf::from(format!("/usr/bin/python{v}"))));
    candidates.sort();
    candidates.into_iter().find(|p| {
        let out = Command::new(p).args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).output();
        out.is_ok_and(|o| {
            o.status.success() && {
                let v = text(&o.stdout);
                let v = v.trim();
                v.starts_with('3') && v != runner_tests::linked_python()
            }
        })
    })
}

#[test]
fn no_process_or_temporary_file_is_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    for mode in ["subprocess", "fork", "warm"] {
        let pid_file = dir.path().join(format!("pids-{mode}"));
        let mark = format!("RUNNER_TEST_MARK=leftovers-{}-{mode}", std::process::id());
        let out = runner()
            .env("RUNNER_TEST_MARK", mark.split_once('=').unwrap().1)
            .env("TMPDIR", &tmp)
            .env("PID_FILE", &pid_file)
            .args(["batch", "-q", "--workers", "1", "--mode", mode])
            .arg(program("pid_report.py"))
            .arg(program("numpy_sum.py"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{mode}: {}", text(&out.stdout));
        let pids: Vec<u32> = std::fs::read_to_string(&pid_file)
            .unwrap()
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        runner_tests::assert_all_die(&pids, &format!("{mode}: the program and its background child"));
        // The runner's own processes (worker, executors) are gone too: they inherited the mark.
        // (SIGKILL is delivered asynchronously, so each is given the hang limit to finish dying.)
        runner_tests::assert_all_die(&processes_with_env(&mark), &format!("{mode}: processes of the runner"));
        let files: Vec<_> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(files.is_empty(), "{mode}: temporary files left: {files:?}");
    }
}

/// Pids of live processes whose environment contains `entry` (`KEY=value`).
fn processes_with_env(entry: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for proc_entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = proc_entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(environ) = std::fs::read(proc_entry.path().join("environ")) else { continue };
        let status = std::fs::read_to_string(proc_entry.path().join("status")).unwrap_or_default();
        if status.contains("State:\tZ") {
            continue;
        }
        if environ.split(|b| *b == 0).any(|e| e == entry.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

/// A package of two modules installed without bytecode (as `pip install --no-compile` leaves one),
/// and a program that prints what it can see of how they were loaded.
fn uncompiled_package(dir: &Path) -> PathBuf {
    let pkg = dir.join("site").join("nopyc");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("__init__.py"), "from . import part\nVALUE = part.VALUE + 1\n").unwrap();
    std::fs::write(pkg.join("part.py"), "VALUE = 41\n").unwrap();
    let prog = dir.join("loaded.py");
    std::fs::write(
        &prog,
        "import os, sys, nopyc\n\
         for m in (nopyc, nopyc.part):\n\
         \x20   print(m.__name__, m.__cached__, m.__spec__.cached, os.path.exists(m.__cached__))\n\
         print(nopyc.VALUE, sys.pycache_prefix, sys.dont_write_bytecode)\n",
    )
    .unwrap();
    prog
}

#[test]
fn preloads_without_bytecode_are_compiled_once_into_runners_cache_and_programs_see_python_s_paths() {
    // PYTHONDONTWRITEBYTECODE=1 over packages without .pyc (the GPU machine's venv): python compiles
    // every preload at every start; runner keeps their bytecode in its cache, and what a program can
    // see (__cached__, __spec__.cached, sys.pycache_prefix, sys.dont_write_bytecode) stays python's.
    let dir = tempfile::tempdir().unwrap();
    let prog = uncompiled_package(dir.path());
    let site = dir.path().join("site");
    let cache = dir.path().join("cache");
    let env = [
        ("PYTHONPATH", site.to_str().unwrap()),
        ("PYTHONDONTWRITEBYTECODE", "1"),
        ("RUNNER_CACHE_DIR", cache.to_str().unwrap()),
    ];
    let want = reference(&prog, &env);
    assert!(want.1.contains("nopyc.part ") && want.1.contains("42 None True"), "{want:?}");
    let pyc = |name: &str| {
        let tag = format!("cpython-{}", runner_tests::linked_python().replace('.', ""));
        let src_dir = site.join("nopyc");
        cache.join("bytecode").join(src_dir.strip_prefix("/").unwrap()).join(format!("{name}.{tag}.pyc"))
    };
    for round in 0..2 {
        for mode in ["warm", "fork"] {
            let got = validate(mode, &prog, &env, &["--preload", "nopyc"]);
            assert_eq!(triple(&got), want, "{mode}, run {round}");
        }
        assert!(pyc("__init__").is_file() && pyc("part").is_file(), "{}", pyc("part").display());
        assert!(!site.join("nopyc").join("__pycache__").exists(), "nothing written beside the sources");
    }
    // Without the cache, or where the package has its bytecode, nothing is written to runner's cache.
    std::fs::remove_dir_all(&cache).unwrap();
    let got = validate("warm", &prog, &env, &["--preload", "nopyc", "--no-bytecode-cache"]);
    assert_eq!(triple(&got), want);
    assert!(!cache.exists(), "--no-bytecode-cache wrote {}", cache.display());
    let status = Command::new(test_python())
        .args(["-m", "compileall", "-q"])
        .arg(site.join("nopyc"))
        .status()
        .unwrap();
    assert!(status.success());
    let want = reference(&prog, &env);
    let got = validate("warm", &prog, &env, &["--preload", "nopyc"]);
    assert_eq!(triple(&got), want);
    assert!(!cache.exists(), "bytecode beside the sources is python's own: {}", cache.display());
}

#[test]
fn a_warning_a_preloaded_library_gives_once_per_process_is_given_to_every_program() {
    // torch warns once per process through functools caches (compile_fx._warn_tf32_disabled,
    // torch._logging's warning_once): python gives every program the warning, and so must a warm
    // executor that already ran a program which got it. Seen on the GPU machine with torchfuzz's
    // programs before the `warn_once_caches` entry (bench/gpu/torchfuzz.txt).
    let dir = tempfile::tempdir().unwrap();
    let site = runner_tests::fixture("preload");
    let source = "import logging\nimport warn_once_lib\n\
                  warn_once_lib.warn_tf32_disabled()\n\
                  warn_once_lib.Variable.warn_capture_scalar_outputs()\n\
                  warn_once_lib.warning_once(logging.getLogger('lib'), 'logged once')\n\
                  print(warn_once_lib.square(3))\n";
    let programs: Vec<PathBuf> = ["a.py", "b.py", "c.py"]
        .iter()
        .map(|name| {
            let path = dir.path().join(name);
            std::fs::write(&path, source).unwrap();
            path
        })
        .collect();
    let env = [("PYTHONPATH", site.to_str().unwrap())];
    let want = reference(&programs[0], &env);
    assert!(want.2.contains("TensorFloat32") && want.2.contains("logged once"), "python: {want:?}");
    let out = dir.path().join("r.jsonl");
    let run = runner()
        .args(["batch", "-q", "--mode", "warm", "-j", "1", "--preload", "warn_once_lib", "-o"])
        .arg(&out)
        .args(&programs)
        .envs(env)
        .env("RUNNER_DEBUG", "1")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    // The point: one executor ran all three.
    let kept = text(&run.stderr).matches("kept for the next program").count();
    assert!(kept >= 2, "the executor was not reused: {}", text(&run.stderr));
    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 3);
    for r in &records {
        let program = Path::new(r["program"].as_str().unwrap());
        assert_eq!(triple(r), reference(program, &env), "{program:?}");
    }
}
