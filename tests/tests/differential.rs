//! The differential suite: every program of `tests/corpus/` runs through each engine mode, in sorted
//! order with one worker, with PYTHONUNBUFFERED unset and set, and must give what `python /abs/prog.py`
//! gives: the same returncode, stdout and stderr, byte for byte after decoding. A difference is a bug,
//! or an entry of [`KNOWN_DIFFERENCES`] that points at `docs/differences.md`.
//!
//! Sorted order matters: the corpus has pairs where `NNN_mutate_*.py` changes process state (cwd,
//! environ, signal handlers, sys hooks, ...) and `NNN+1_check_*.py` prints what a fresh python sees, so
//! warm mode, which runs programs back to back in one executor, shows any state it failed to restore.
//!
//! The reference is the test Python itself, so a corpus program that is not deterministic under it
//! would make this suite flaky: [`corpus_is_deterministic_under_python`] catches such a program first.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use runner_tests::{line_diff, returncode, runner, show, test_python, text};

/// The engine modes compared with python. Adding an engine is adding its `--mode` name here.
const MODES: &[&str] = &["subprocess", "fork", "warm"];

/// The environments each mode runs the corpus under (on top of the test's own, where
/// PYTHONUNBUFFERED is always removed first): stdout's buffering decides the order of prints and
/// fd-level writes in the captured stream, so both settings are compared.
const ENVIRONMENTS: &[&[(&str, &str)]] = &[&[], &[("PYTHONUNBUFFERED", "1")]];

/// `(program file name, mode, why)`: results left out of the comparison (and printed instead). `why`
/// must appear word for word in `docs/differences.md` (the title of the entry that documents it).
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
    ("077_interpreter_defaults.py", "fork", "gc.freeze()"),
    ("077_interpreter_defaults.py", "warm", "gc.freeze()"),
    ("231_check_gc.py", "fork", "gc.freeze()"),
    ("231_check_gc.py", "warm", "gc.freeze()"),
    ("281_check_import_installed_package.py", "warm", "Installed packages stay imported"),
];

/// The runner's own timeout for one program: a program that hangs in some mode becomes a mismatch
/// (timed out) instead of a hung test. Generous: no corpus program takes a second under python.
const PROGRAM_TIMEOUT_SECS: &str = "60";

/// How long one process the test starts may take before the test calls it a hang and kills it.
const HANG_LIMIT: Duration = Duration::from_secs(120);

/// What one program did: returncode, stdout and stderr as runner reports them (see [`text`]).
type Outcome = (i32, String, String);

/// The corpus programs, sorted by file name.
fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut programs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "py"))
        .collect();
    programs.sort();
    assert!(!programs.is_empty(), "no programs in {}", dir.display());
    programs
}

/// The directory every program runs in, the same for python and the runner (programs print their cwd).
fn workdir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Sets the environment every run gets: the test's own without PYTHONUNBUFFERED, plus `env`.
fn with_env<'c>(cmd: &'c mut Command, env: &[(&str, &str)]) -> &'c mut Command {
    cmd.env_remove("PYTHONUNBUFFERED").envs(env.iter().copied()).current_dir(workdir())
}

/// Runs `cmd` (stdin /dev/null) in its own process group and collects its output; kills the group and
/// fails the test if it has not finished within [`HANG_LIMIT`].
fn finish(cmd: &mut Command) -> Output {
    runner_tests::finish_within(cmd.stdin(Stdio::null()), None, HANG_LIMIT)
}

/// What `python /abs/prog.py` does under `env`: `runner_tests::python_reference` with an environment
/// (that helper inherits the test's PYTHONUNBUFFERED, which this suite must control).
fn reference(program: &Path, env: &[(&str, &str)]) -> Outcome {
    runner_tests::close_inherited_fds();
    let mut cmd = Command::new(test_python());
    cmd.arg(program).env_remove("CUDA_VISIBLE_DEVICES").env_remove("VIRTUAL_ENV");
    let output = finish(with_env(&mut cmd, env));
    (returncode(&output), text(&output.stdout), text(&output.stderr))
}

/// The first reference run of every corpus program under each of [`ENVIRONMENTS`] (in that order),
/// made once and shared by the tests that need it.
fn references() -> &'static [Vec<Outcome>] {
    static REFERENCES: OnceLock<Vec<Vec<Outcome>>> = OnceLock::new();
    REFERENCES.get_or_init(|| {
        let programs = corpus();
        ENVIRONMENTS.iter().map(|env| programs.iter().map(|p| reference(p, env)).collect()).collect()
    })
}

/// Runs the whole corpus in `mode` as one `runner batch --workers 1`, so programs run in sorted order
/// and, in warm mode, one executor carries whatever each program leaves to the next: the mutate/check
/// pairs rely on that. Returns (returncode, stdout, stderr) per program, in `programs`' order.
fn run_corpus(mode: &str, programs: &[PathBuf], env: &[(&str, &str)]) -> Vec<(i32, String, String)> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let results = dir.path().join("results.jsonl");
    let mut cmd = runner();
    cmd.args([
        "batch",
        "--quiet",
        "--workers",
        "1",
        "--mode",
        mode,
        "--timeout",
        PROGRAM_TIMEOUT_SECS,
        "--output",
    ])
    .arg(&results)
    .args(programs);
    let output = finish(with_env(&mut cmd, env));
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "runner batch --mode {mode} failed to run the corpus: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&results).expect("read the batch results");
    let mut by_program = std::collections::HashMap::new();
    for line in text.lines() {
        let result: serde_json::Value = serde_json::from_str(line).expect("whole JSON lines");
        let field = |name: &str| {
            result[name].as_str().unwrap_or_else(|| panic!("no string {name}: {result}")).to_string()
        };
        let code = result["returncode"].as_i64().expect("returncode") as i32;
        by_program.insert(PathBuf::from(field("program")), (code, field("stdout"), field("stderr")));
    }
    programs
        .iter()
        .map(|p| by_program.remove(p).unwrap_or_else(|| panic!("{mode}: no result for {}", p.display())))
        .collect()
}

/// The file name of a corpus program, as the corpus and [`KNOWN_DIFFERENCES`] name it.
fn name(program: &Path) -> &str {
    program.file_name().and_then(|n| n.to_str()).expect("UTF-8 program file name")
}

/// A readable label for an environment of [`ENVIRONMENTS`].
fn env_label(env: &[(&str, &str)]) -> String {
    if env.is_empty() {
        return "PYTHONUNBUFFERED unset".to_string();
    }
    env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

/// Appends one report entry per field where `actual` differs from `expected`.
fn compare(report: &mut String, what: &str, expected: &Outcome, actual: &Outcome) {
    if expected.0 != actual.0 {
        let _ = writeln!(report, "--- {what}: returncode: expected {}, actual {}", expected.0, actual.0);
    }
    for (field, want, got) in [("stdout", &expected.1, &actual.1), ("stderr", &expected.2, &actual.2)] {
        if want != got {
            let _ = writeln!(report, "--- {what}: {field} differs (- expected, + actual):");
            report.push_str(&line_diff(want, got, DIFF_MAX_LINES));
        }
    }
}

/// Lines of each side a diff shows.
const DIFF_MAX_LINES: usize = 12;

/// Every mode gives python's exact result on every corpus program, with and without PYTHONUNBUFFERED.
#[test]
fn every_mode_matches_python_on_the_corpus() {
    let programs = corpus();
    let mut report = String::new();
    let mut mismatched = Vec::new();
    let mut compared = 0;
    for (env, expected) in ENVIRONMENTS.iter().zip(references()) {
        let label = env_label(env);
        for mode in MODES {
            let actual = run_corpus(mode, &programs, env);
            assert_eq!(actual.len(), programs.len(), "run_corpus({mode}) returned one result per program");
            for ((program, want), got) in programs.iter().zip(expected).zip(&actual) {
                let file = name(program);
                if let Some((_, _, why)) = KNOWN_DIFFERENCES.iter().find(|(p, m, _)| *p == file && m == mode)
                {
                    eprintln!("known difference, not compared: {file} in {mode} mode ({label}): {why}");
                    continue;
                }
                compared += 1;
                let what = format!("{file} [{mode}, {label}]");
                let before = report.len();
                compare(&mut report, &what, want, got);
                if report.len() != before {
                    mismatched.push(what);
                }
            }
        }
    }
    assert!(
        report.is_empty(),
        "{} of {compared} corpus results differ from `python /abs/prog.py`:\n  {}\n{report}",
        mismatched.len(),
        mismatched.join("\n  ")
    );
}

/// Every corpus program gives the same result on two runs under the reference python (the first is the
/// one the differential test compares with), with and without PYTHONUNBUFFERED, so a mismatch in the
/// differential test is never the corpus's own flakiness.
#[test]
fn corpus_is_deterministic_under_python() {
    let programs = corpus();
    let mut report = String::new();
    for (env, first_runs) in ENVIRONMENTS.iter().zip(references()) {
        let label = env_label(env);
        for (program, first) in programs.iter().zip(first_runs) {
            let second = reference(program, env);
            compare(&mut report, &format!("{} [python run 1 vs 2, {label}]", name(program)), first, &second);
        }
    }
    assert!(report.is_empty(), "corpus programs that are not deterministic under python:\n{report}");
}

/// Every KNOWN_DIFFERENCES entry names a corpus program and a compared mode, and a reason that
/// `docs/differences.md` documents.
#[test]
fn known_differences_are_real_and_documented() {
    let names: Vec<String> = corpus().iter().map(|p| name(p).to_string()).collect();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/differences.md");
    for (program, mode, why) in KNOWN_DIFFERENCES {
        assert!(names.iter().any(|n| n == program), "KNOWN_DIFFERENCES names {program}, not in the corpus");
        assert!(MODES.contains(mode), "KNOWN_DIFFERENCES names mode {mode}, not in MODES");
        assert!(!why.trim().is_empty(), "KNOWN_DIFFERENCES entry {program} ({mode}) gives no reason");
        let documented = std::fs::read_to_string(&docs).unwrap_or_else(|e| {
            panic!("KNOWN_DIFFERENCES is not empty but {} is unreadable: {e}", docs.display())
        });
        assert!(
            documented.contains(why),
            "KNOWN_DIFFERENCES entry {program} ({mode}): {why:?} is not in {}",
            docs.display()
        );
    }
}

#[test]
fn line_diff_shows_only_the_differing_lines_with_context() {
    let expected = "a\nb\nc\nd\ne\nf\n";
    let actual = "a\nb\nc\nD\ne\nf";
    assert_eq!(
        line_diff(expected, actual, DIFF_MAX_LINES),
        "  ... 1 equal lines\n  b\n  c\n- d\n- e\n- f\n+ D\n+ e\n+ f [no newline]\n"
    );
    assert_eq!(line_diff("x\n", "x\ny\n", DIFF_MAX_LINES), "  x\n+ y\n");
    assert_eq!(show("tab\there\r\n"), "tab\\there\\r");
}

/// `(finding, docs title)`: findings of `fuzz/findings/` that still differ from python. Each is a bug
/// listed under "Open fuzz findings" in docs/differences.md (by that title); the test fails when one of
/// them no longer differs, so that the entry goes once the bug is fixed.
/// None at present.
const OPEN_FINDINGS: &[(&str, &str)] = &[];

/// `(finding, docs title)`: findings that are documented differences by design, not bugs, each shown by
/// its own test in `differences.rs`: left out of the comparison (with the reason printed), because
/// whether they show depends on the interpreter's allocation history.
const DOCUMENTED_FINDINGS: &[(&str, &str)] = &[
    ("20261130-9092", "When the garbage collector runs"),
    ("20261131-16327", "When the garbage collector runs"),
];

/// Every difference the fuzzer ever found (`fuzz/findings/`, each with its programs, mode and
/// settings in `finding.json`) is a regression test: run again as it was found, the mode must give
/// what python gives now.
#[test]
fn fuzz_findings_stay_fixed() {
    use runner_tests::fuzz::{findings, Oracle};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/findings");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fuzz/findings")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.join(findings::FINDING_FILE).is_file())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let documented = DOCUMENTED_FINDINGS.iter().find(|(n, _)| *n == name);
            if let Some((_, why)) = documented {
                eprintln!("{name}: left out, documented in docs/differences.md ({why})");
            }
            documented.is_none()
        })
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 50, "only {} findings under {}", dirs.len(), root.display());
    let oracle = Oracle {
        python: test_python(),
        runner: runner_tests::runner_bin(),
        timeout: Duration::from_secs(30),
    };
    let work = tempfile::tempdir().expect("temporary directory");
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for part in dirs.chunks(dirs.len().div_ceil(2)) {
            let (tx, oracle, work) = (tx.clone(), &oracle, work.path());
            scope.spawn(move || {
                for dir in part {
                    let written = findings::load(dir).expect("a readable finding.json");
                    let replay = findings::replay(&written, oracle, work).expect("the finding runs");
                    tx.send((written, replay)).expect("the collector is there");
                }
            });
        }
    });
    drop(tx);
    let mut results: Vec<_> = rx.into_iter().collect();
    results.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    assert_eq!(results.len(), dirs.len());
    let mut report = String::new();
    for (written, replay) in &results {
        let fields = replay.differing_fields();
        let open = OPEN_FINDINGS.iter().find(|(name, _)| *name == written.name);
        match (fields.is_empty(), open) {
            (true, None) => {}
            (false, Some((_, why))) => eprintln!("{}: still differs ({why}), as documented", written.name),
            (true, Some(_)) => {
                let _ = writeln!(
                    report,
                    "{} now matches python: take it out of OPEN_FINDINGS and the docs",
                    written.name
                );
            }
            (false, None) => {
                let _ = writeln!(
                    report,
                    "{} ({} mode) differs again in {}:",
                    written.name,
                    written.mode.as_str(),
                    fields.join(", ")
                );
                for actual in &replay.observed {
                    compare(&mut report, &written.name, &as_outcome(&replay.expected), &as_outcome(actual));
                }
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

fn as_outcome(o: &runner_tests::fuzz::Outcome) -> Outcome {
    (o.returncode, o.stdout.clone(), o.stderr.clone())
}

#[test]
fn open_fuzz_findings_are_documented() {
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/differences.md"))
        .expect("docs/differences.md");
    for (name, why) in OPEN_FINDINGS.iter().chain(DOCUMENTED_FINDINGS) {
        assert!(docs.contains(why) && docs.contains(name), "{name} ({why:?}) is not in docs/differences.md");
    }
}
