//! Warm mode with torch preloaded: what one program does to torch's global state (configs, default
//! dtype and device, grad mode, print options, determinism, backend flags, compiled-code caches,
//! random state) is gone for the next program of the same executor.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use runner_tests::{require_module, runner, test_python, text};

fn program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("torch_state").join(name)
}

fn batch(mode: &str, programs: &[PathBuf]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl");
    let status = runner()
        .args([
            "batch",
            "-q",
            "--workers",
            "1",
            "--mode",
            mode,
            "--preload",
            "torch,torch._dynamo",
            "--output",
        ])
        .arg(&out)
        .args(programs)
        .status()
        .unwrap();
    assert!(matches!(status.code(), Some(0 | 1)));
    std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn torch_state_left_by_a_program_is_gone_for_the_next() {
    require_module("torch");
    let check = program("2_check.py");
    let fresh = Command::new(test_python()).arg(&check).stdin(Stdio::null()).output().unwrap();
    assert!(fresh.status.success(), "{}", text(&fresh.stderr));
    let records = batch("warm", &[program("1_mutate.py"), check.clone()]);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["returncode"], 0, "{}", records[0]["stderr"]);
    assert_eq!(records[1]["stdout"].as_str().unwrap(), text(&fresh.stdout), "{}", records[1]["stderr"]);
    assert_eq!(records[1]["stderr"].as_str().unwrap(), text(&fresh.stderr));
}

#[test]
fn unseeded_programs_get_fresh_random_numbers_in_every_embedded_mode() {
    require_module("torch");
    let programs = [program("3_random.py"), program("4_random.py")];
    // python itself: two processes, two different streams (torch seeds from the OS).
    let run =
        |p: &Path| text(&Command::new(test_python()).arg(p).stdin(Stdio::null()).output().unwrap().stdout);
    assert_ne!(run(&programs[0]), run(&programs[1]));
    for mode in ["fork", "warm"] {
        let records = batch(mode, &programs);
        assert_ne!(records[0]["stdout"], records[1]["stdout"], "{mode}: two programs drew the same numbers");
    }
}

fn compile_program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("torch_compile").join(name)
}

/// A warm batch on one worker with `--preload torch` alone (what the compile programs import beyond
/// it is theirs to import) and RUNNER_DEBUG on: the records and what the engine said.
fn warm_debug_batch(programs: &[PathBuf]) -> (Vec<serde_json::Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl");
    let output = runner()
        .args(["batch", "-q", "--workers", "1", "--mode", "warm", "--preload", "torch", "--timeout", "600"])
        .arg("--output")
        .arg(&out)
        .args(programs)
        .env("RUNNER_DEBUG", "1")
        .output()
        .unwrap();
    assert!(matches!(output.status.code(), Some(0 | 1)), "{}", text(&output.stderr));
    let records =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (records, text(&output.stderr))
}

fn python_output(program: &Path) -> (i32, String, String) {
    let out = Command::new(test_python()).arg(program).stdin(Stdio::null()).output().unwrap();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn assert_matches_python(record: &serde_json::Value, program: &Path) {
    let (code, stdout, stderr) = python_output(program);
    let name = program.display();
    assert_eq!(record["returncode"], code, "{name}: {}", record["stderr"]);
    assert_eq!(record["stdout"].as_str().unwrap(), stdout, "{name}");
    assert_eq!(record["stderr"].as_str().unwrap(), stderr, "{name}");
    assert!(record.get("confirmed").is_none(), "{name} needed a fresh executor: {record}");
}

#[test]
fn a_compile_program_leaves_nothing_for_the_next_in_the_same_executor() {
    require_module("torch");
    let programs = [compile_program("1_compile.py"), compile_program("2_check.py")];
    let (records, said) = warm_debug_batch(&programs);
    assert_eq!(records.len(), 2);
    for (record, program) in records.iter().zip(&programs) {
        assert_matches_python(record, program);
    }
    // Both ran in one executor: it was kept after the compile program, never replaced.
    assert!(!said.contains("retired"), "{said}");
    assert_eq!(said.matches("kept for the next program").count(), 2, "{said}");
}

#[test]
fn the_cpu_compile_corpus_runs_without_executor_retirement() {
    require_module("torch");
    let dir = tempfile::tempdir().unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/make_corpus.py");
    let made = Command::new(test_python())
        .arg(&corpus)
        .arg(dir.path())
        .args(["torch_compile", "--count", "3", "--seed", "7"])
        .status()
        .unwrap();
    assert!(made.success());
    let mut programs: Vec<PathBuf> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    programs.sort();
    let (records, said) = warm_debug_batch(&programs);
    assert_eq!(records.len(), programs.len());
    for (record, program) in records.iter().zip(&programs) {
        assert_matches_python(record, program);
    }
    assert!(!said.contains("retired"), "{said}");
    assert_eq!(said.matches("kept for the next program").count(), programs.len(), "{said}");
}
