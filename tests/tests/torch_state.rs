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
