//! Every entry of docs/differences.md, shown: each test runs the documented program under python and
//! under the embedded modes and asserts the documented difference. If one of these starts failing, the
//! difference is gone: delete the entry from docs/differences.md and the test with it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use runner_tests::{require_module, runner, test_python, text};

fn program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("differences").join(name)
}

fn python_stdout(prog: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(test_python());
    cmd.arg(prog).stdin(Stdio::null());
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}: {}", prog.display(), text(&out.stderr));
    text(&out.stdout)
}

/// Runs `programs` as one batch with one worker (so warm mode shares the executor) and returns each
/// program's stdout.
fn batch_stdout(mode: &str, programs: &[PathBuf], env: &[(&str, &str)], extra: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("r.jsonl");
    let mut cmd = runner();
    cmd.args(["batch", "-q", "--workers", "1", "--mode", mode]).args(extra).arg("--output").arg(&out_file);
    cmd.args(programs).envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out.stderr));
    let results = std::fs::read_to_string(&out_file).unwrap();
    let by_program: std::collections::HashMap<String, String> = results
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["program"].as_str().unwrap().to_string(), v["stdout"].as_str().unwrap().to_string())
        })
        .collect();
    programs.iter().map(|p| by_program[&p.display().to_string()].clone()).collect()
}

#[test]
fn gc_freeze() {
    let p = program("gc_freeze.py");
    assert_eq!(python_stdout(&p, &[]), "False\n");
    for mode in ["fork", "warm"] {
        assert_eq!(batch_stdout(mode, std::slice::from_ref(&p), &[], &[]), ["True\n"], "{mode}");
    }
}

#[test]
fn modules_already_imported() {
    let p = program("zygote_modules.py");
    assert_eq!(python_stdout(&p, &[]), "False\n");
    for mode in ["fork", "warm"] {
        assert_eq!(batch_stdout(mode, std::slice::from_ref(&p), &[], &[]), ["True\n"], "{mode}");
    }
}

#[test]
fn a_profiler_sees_threading_shut_down_though_the_program_never_imported_it() {
    let p = program("profiler_without_threading.py");
    assert_eq!(python_stdout(&p, &[]), "");
    for mode in ["fork", "warm"] {
        assert_eq!(
            batch_stdout(mode, std::slice::from_ref(&p), &[], &[]),
            ["threading shutdown seen\n"],
            "{mode}"
        );
    }
}

#[test]
fn preloads_act_as_imported_first() {
    let p = program("preload_keeps_warnings_alive.py");
    assert_eq!(python_stdout(&p, &[]), "del Noisy\n");
    // The same program with `import asyncio` first (on its first line, so nothing else moves).
    let dir = tempfile::tempdir().unwrap();
    let imported = dir.path().join("imported_first.py");
    let source = std::fs::read_to_string(&p).unwrap();
    let (_, rest) = source.split_once('\n').unwrap();
    std::fs::write(&imported, format!("import asyncio\n{rest}")).unwrap();
    assert_eq!(python_stdout(&imported, &[]), "");
    for mode in ["fork", "warm"] {
        assert_eq!(
            batch_stdout(mode, std::slice::from_ref(&p), &[], &["--preload", "asyncio"]),
            [""],
            "{mode}"
        );
        assert_eq!(batch_stdout(mode, std::slice::from_ref(&p), &[], &[]), ["del Noisy\n"], "{mode}");
    }
}

#[test]
fn automatic_collections_run_at_other_moments() {
    let p = program("gc_timing.py");
    assert_eq!(python_stdout(&p, &[]), "collected\nimported threading\n");
    for mode in ["fork", "warm"] {
        assert_eq!(
            batch_stdout(mode, std::slice::from_ref(&p), &[], &[]),
            ["imported threading\ncollected\n"],
            "{mode}"
        );
    }
}

#[test]
fn hash_randomisation_is_shared_by_the_programs_of_a_run() {
    let p = program("shared_hash_seed.py");
    let env = [("PYTHONHASHSEED", "")];
    // Two pythons: two seeds (equal only with probability 2^-64).
    assert_ne!(python_stdout(&p, &env), python_stdout(&p, &env));
    for mode in ["fork", "warm"] {
        // batch runs a path once, so the second program is a copy.
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.py");
        std::fs::copy(&p, &copy).unwrap();
        let out = batch_stdout(mode, &[p.clone(), copy], &env, &[]);
        assert_eq!(out[0], out[1], "{mode}");
    }
}

#[test]
fn process_identity() {
    let p = program("process_identity.py");
    assert_eq!(python_stdout(&p, &[]), "True\n");
    for mode in ["fork", "warm"] {
        assert_eq!(batch_stdout(mode, std::slice::from_ref(&p), &[], &[]), ["False\n"], "{mode}");
    }
}

#[test]
fn codec_search_functions_stay_registered_in_warm_mode() {
    let progs = [program("codec_leak_mutate.py"), program("codec_leak_zcheck.py")];
    let fresh = "codec unknown\nerror handler unknown\nforked\n";
    assert_eq!(python_stdout(&progs[1], &[]), fresh);
    assert_eq!(batch_stdout("fork", &progs, &[], &[])[1], fresh);
    assert_eq!(
        batch_stdout("warm", &progs, &[], &[])[1],
        "codec found\nerror handler found\nat-fork hook ran\nforked\n"
    );
}

#[test]
fn third_party_module_globals_stay_patched_in_warm_mode() {
    require_module("numpy");
    let progs = [program("third_party_patch_mutate.py"), program("third_party_patch_zcheck.py")];
    assert_eq!(python_stdout(&progs[1], &[]), "False\n");
    let preload = ["--preload", "numpy"];
    assert_eq!(batch_stdout("fork", &progs, &[], &preload)[1], "False\n");
    assert_eq!(batch_stdout("warm", &progs, &[], &preload)[1], "True\n");
}

#[test]
fn warnings_a_library_gives_once_through_a_flag_of_its_own_reach_only_the_first_program_in_warm_mode() {
    let progs = [program("warn_once_flag_a.py"), program("warn_once_flag_b.py")];
    let site = runner_tests::fixture("preload");
    let env = [("PYTHONPATH", site.to_str().unwrap())];
    assert_eq!(python_stdout(&progs[1], &env), "1\n");
    let preload = ["--preload", "warn_once_lib"];
    assert_eq!(batch_stdout("fork", &progs, &env, &preload), ["1\n", "1\n"]);
    assert_eq!(batch_stdout("warm", &progs, &env, &preload), ["1\n", "0\n"]);
}

#[test]
fn atexit_handlers_of_preloaded_modules_do_not_run() {
    let p = program("preload_atexit.py");
    let dir = program("").display().to_string();
    let env = [("PYTHONPATH", dir.as_str())];
    assert_eq!(python_stdout(&p, &env), "atexit handler of atexit_printer\n");
    for mode in ["fork", "warm"] {
        // Without the preload the handler is the program's own and runs.
        assert_eq!(
            batch_stdout(mode, std::slice::from_ref(&p), &env, &[]),
            ["atexit handler of atexit_printer\n"],
            "{mode}"
        );
        assert_eq!(
            batch_stdout(mode, std::slice::from_ref(&p), &env, &["--preload", "atexit_printer"]),
            [""],
            "{mode}"
        );
    }
}

#[test]
fn atexit_handlers_registered_at_start_up_do_not_run() {
    // A Python whose start-up registers an exit handler: a venv with a `.pth` file that does it.
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let made = Command::new(test_python()).args(["-m", "venv", "--without-pip"]).arg(&venv).output().unwrap();
    assert!(made.status.success(), "python -m venv: {}", text(&made.stderr));
    let python = venv.join("bin").join("python");
    let purelib = Command::new(&python)
        .args(["-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
        .output()
        .unwrap();
    let purelib = PathBuf::from(text(&purelib.stdout).trim());
    std::fs::write(
        purelib.join("zz_exit_handler.pth"),
        "import atexit; atexit.register(print, 'exit handler of a .pth file')\n",
    )
    .unwrap();
    let p = program("startup_atexit.py");
    let out = Command::new(&python).arg(&p).stdin(Stdio::null()).output().unwrap();
    // (site may read the venv's site-packages twice, through lib64 too: one handler each time)
    let stdout = text(&out.stdout);
    let registered: usize = stdout.lines().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(registered >= 1, "python: {stdout:?}");
    assert_eq!(stdout.matches("exit handler of a .pth file\n").count(), registered, "python: {stdout:?}");
    let python = python.display().to_string();
    for mode in ["fork", "warm"] {
        assert_eq!(
            batch_stdout(mode, std::slice::from_ref(&p), &[], &["--python", python.as_str()]),
            ["0\n"],
            "{mode}"
        );
    }
}

#[test]
fn installed_packages_stay_imported_in_warm_mode() {
    require_module("numpy");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let progs = [
        corpus.join("280_mutate_import_installed_package.py"),
        corpus.join("281_check_import_installed_package.py"),
    ];
    assert_eq!(python_stdout(&progs[1], &[]), "False\n10\n");
    assert_eq!(batch_stdout("fork", &progs, &[], &[])[1], "False\n10\n");
    assert_eq!(batch_stdout("warm", &progs, &[], &[])[1], "True\n10\n");
}

#[test]
fn globals_of_a_compiled_program_are_finalized_in_warm_mode() {
    require_module("torch");
    let p = program("compiled_globals.py");
    assert_eq!(python_stdout(&p, &[]), "end\n");
    let preload = ["--preload", "torch"];
    assert_eq!(batch_stdout("fork", std::slice::from_ref(&p), &[], &preload), ["end\n"]);
    assert_eq!(batch_stdout("warm", std::slice::from_ref(&p), &[], &preload), ["end\ndel D\n"]);
}

#[test]
fn standard_modules_an_installed_package_imported_stay_in_warm_mode() {
    require_module("torch");
    let programs = [program("library_imports_mutate.py"), program("library_imports_zcheck.py")];
    assert_eq!(python_stdout(&programs[1], &[]), "False\n");
    let preload = ["--preload", "torch"];
    assert_eq!(batch_stdout("fork", &programs, &[], &preload)[1], "False\n");
    assert_eq!(batch_stdout("warm", &programs, &[], &preload)[1], "True\n");
}

#[test]
fn threads_that_installed_packages_start_stay_running_in_warm_mode() {
    let site = program("site-packages");
    let env = [("PYTHONPATH", site.to_str().unwrap())];
    let programs = [program("library_thread_mutate.py"), program("library_thread_zcheck.py")];
    assert_eq!(python_stdout(&programs[1], &env), "1\n");
    assert_eq!(batch_stdout("fork", &programs, &env, &[]), ["3\n", "1\n"]);
    assert_eq!(batch_stdout("warm", &programs, &env, &[]), ["3\n", "2\n"]);
    // The executor went on after the package started its pool; a pool of the program's own is the
    // program's state and ends the executor.
    let said = |programs: &[PathBuf]| {
        let out = runner()
            .args(["batch", "-q", "--workers", "1", "--mode", "warm", "--output", "/dev/null"])
            .args(programs)
            .envs(env)
            .env("RUNNER_DEBUG", "1")
            .output()
            .unwrap();
        text(&out.stderr)
    };
    let kept = said(&programs[..1]);
    assert!(kept.contains("kept for the next program") && !kept.contains("retired"), "{kept}");
    let replaced = said(&[program("program_thread.py")]);
    assert!(replaced.contains("retired: the program left threads running"), "{replaced}");
}

#[test]
fn exit_handlers_that_installed_packages_register_do_not_run_in_warm_mode() {
    let site = program("site-packages");
    let env = [("PYTHONPATH", site.to_str().unwrap())];
    let p = program("library_atexit.py");
    assert_eq!(python_stdout(&p, &env), "main\nfake_exit: bye\n");
    assert_eq!(batch_stdout("fork", std::slice::from_ref(&p), &env, &[]), ["main\nfake_exit: bye\n"]);
    assert_eq!(batch_stdout("warm", std::slice::from_ref(&p), &env, &[]), ["main\n"]);
}

#[test]
fn cuda_on_a_machine_without_a_gpu_after_a_preload_that_asked_for_it() {
    let site = program("site-packages");
    let env = [("PYTHONPATH", site.to_str().unwrap())];
    let p = program("cuda_without_gpu.py");
    let python = python_stdout(&p, &env);
    assert!(python.contains("NVIDIA driver"), "this test needs a machine without a GPU: {python}");
    let preload = ["--preload", "fake_cuda_probe"];
    for mode in ["fork", "warm"] {
        assert_eq!(
            batch_stdout(mode, std::slice::from_ref(&p), &env, &[])[0],
            python,
            "{mode} without the preload"
        );
        let got = &batch_stdout(mode, std::slice::from_ref(&p), &env, &preload)[0];
        assert!(
            got.starts_with("RuntimeError: Cannot re-initialize CUDA in forked subprocess"),
            "{mode}: {got}"
        );
    }
}
