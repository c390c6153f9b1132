//! End-to-end tests of `runner batch`: the real binary on the small corpora of `tests/batch_corpus/`
//! (passing, failing, crashing, hanging, flooding and sleeping programs). They pin what a campaign
//! relies on: one whole, parseable JSONL record per program with the right verdict, failure buckets with
//! their reproduce commands, JUnit counts, the exit codes (0, 1, 2 with one line on stderr, 3, 130),
//! `--resume`, `--fail-fast`, the sorted order of one worker, list inputs, the directory walk, Ctrl-C,
//! and workers spread over devices. What each engine implements runs once per `--mode`, as
//! `<mode>::<test>`, so that a failure in one engine does not hide the others.
//!
//! Every runner invocation is bounded (a hang fails its test with a message instead of hanging the
//! suite). Nothing sleeps to wait for something: the Ctrl-C tests wait on a FIFO that the programs
//! write to once they run, and on the runner's own stderr line for the first Ctrl-C.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use runner_tests::{
    assert_all_die, describe, finish_within, python_reference, returncode, runner, text, HANG_LIMIT,
};
use serde_json::{json, Value};

runner_tests::per_mode!(warm, fork, subprocess; {
    a_mixed_corpus_gives_one_whole_record_per_program_buckets_junit_and_exit_1,
    one_worker_runs_programs_in_sorted_order,
    fail_fast_stops_scheduling_and_prints_the_reproduce_command,
    first_ctrl_c_stops_scheduling_kills_after_the_grace_and_exits_130,
    second_ctrl_c_kills_at_once,
    workers_are_spread_round_robin_over_a_fake_gpu_list,
});

/// The default grace after the first Ctrl-C (the README's): running programs get this long, then are
/// killed. The test of the grace itself sets a shorter one with `--interrupt-grace`.
const INTERRUPT_GRACE: Duration = Duration::from_secs(10);

/// The `--interrupt-grace` of the test that waits for the grace to end.
const SHORT_GRACE: Duration = Duration::from_secs(2);

/// `--timeout` for the mixed corpus: ends `hang.py`, and is far above what any other program takes.
const TIMEOUT: &str = "3";

/// `--max-output` for the mixed corpus: cuts `flood.py` (1 MB), and no other program's output.
const MAX_OUTPUT: usize = 1000;

/// The keys a batch record has on top of [`runner_tests::RESULT_KEYS`].
const RECORD_KEYS: &[&str] = &["index", "worker", "status", "started_at"];

/// The verdicts that make a batch fail.
const FAILURES: &[&str] = &["failed", "crashed", "timed_out"];

/// A program of a corpus and what its record must say.
struct Row {
    /// Path under the corpus directory.
    path: &'static str,
    status: &'static str,
    returncode: i64,
    /// The bucket signature, for the verdicts in [`FAILURES`].
    signature: Option<&'static str>,
    /// Its stdout; for `truncated` rows, what is kept is the first [`MAX_OUTPUT`] bytes of `x`s.
    stdout: &'static str,
    /// `timed_out` and `truncated.stdout` of the record.
    timed_out: bool,
    truncated: bool,
}

const fn row(
    path: &'static str,
    status: &'static str,
    returncode: i64,
    signature: Option<&'static str>,
    stdout: &'static str,
) -> Row {
    Row { path, status, returncode, signature, stdout, timed_out: false, truncated: false }
}

/// `batch_corpus/mixed/`, in sorted order (so a row's position is the program's `index`), run with
/// `--timeout TIMEOUT --max-output MAX_OUTPUT --ignore-pattern KnownIssue`. The walk must find the two
/// programs under `sub/` and leave `sub/not_a_program.txt` out.
const MIXED: &[Row] = &[
    row("abort.py", "crashed", -6, Some("killed by SIGABRT"), "about to abort\n"),
    row("exit_code.py", "failed", 3, Some("exit code 3"), "exiting with 3\n"),
    Row { truncated: true, ..row("flood.py", "passed", 0, None, "") },
    Row { timed_out: true, ..row("hang.py", "timed_out", -9, Some("timed out"), "hanging\n") },
    row("key_error.py", "failed", 1, Some("KeyError: 'missing'"), ""),
    row("known_issue.py", "ignored", 1, None, ""),
    row("pass_a.py", "passed", 0, None, "pass a\n"),
    row("pass_b.py", "passed", 0, None, "pass b\n"),
    row("segfault.py", "crashed", -11, Some("killed by SIGSEGV"), "about to read address 0\n"),
    row("sub/deeper/pass_deep.py", "passed", 0, None, "deep\n"),
    row("sub/pass_nested.py", "passed", 0, None, "nested\n"),
    row("value_error_1.py", "failed", 1, Some("ValueError: shared bug"), "value error 1\n"),
    row("value_error_2.py", "failed", 1, Some("ValueError: shared bug"), "value error 2\n"),
    row("value_error_3.py", "failed", 1, Some("ValueError: shared bug"), "value error 3\n"),
];

/// `batch_corpus/sequence/`, sorted: eight quick programs, the third of which fails.
const SEQUENCE: &[&str] = &[
    "01_pass.py",
    "02_pass.py",
    "03_fail.py",
    "04_pass.py",
    "05_pass.py",
    "06_pass.py",
    "07_pass.py",
    "08_pass.py",
];

/// Index of the failing program of [`SEQUENCE`].
const SEQUENCE_FAILURE: usize = 2;

/// Absolute path of a file or directory under `tests/batch_corpus/`.
fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("batch_corpus").join(rel)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("corpus paths are UTF-8")
}

/// `runner batch` with the test Python selected and no `CUDA_VISIBLE_DEVICES`.
fn batch() -> Command {
    let mut cmd = runner();
    cmd.arg("batch");
    cmd
}

/// Runs `cmd` and collects its output; fails the test after [`HANG_LIMIT`].
fn finish(cmd: &mut Command) -> Output {
    finish_within(cmd, None, HANG_LIMIT)
}

/// Sends signal `sig` (`INT`, `KILL`) to process `pid`.
fn kill(pid: u32, sig: &str) {
    let status = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().expect("run kill");
    assert!(status.success(), "kill -{sig} {pid} failed");
}

/// The records of a JSONL results file. Every line must be whole (the file ends with a newline) and
/// one JSON object.
fn records(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let content = String::from_utf8(bytes).unwrap_or_else(|e| panic!("{} is not UTF-8: {e}", path.display()));
    assert!(
        content.is_empty() || content.ends_with('\n'),
        "{}: the last line is cut: {:?}",
        path.display(),
        content.lines().last()
    );
    content
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{} line {}: not JSON ({e}): {line:?}", path.display(), i + 1));
            assert!(v.is_object(), "{} line {}: not an object: {line}", path.display(), i + 1);
            v
        })
        .collect()
}

/// The `program` of a record.
fn program_of(r: &Value) -> &str {
    r["program"].as_str().unwrap_or_else(|| panic!("record without a program: {r}"))
}

/// The `index` of a record.
fn index_of(r: &Value) -> usize {
    r["index"].as_u64().unwrap_or_else(|| panic!("record without an index: {r}")) as usize
}

/// Checks the shape every batch record has, whatever the program did: the documented keys (plus
/// `signature` exactly for failures, and `confirmed` only in warm mode for a program that did not
/// pass), the types of the fields, and the mode.
fn assert_record_shape(r: &Value, mode: &str, workers: usize) {
    let ctx = format!("{mode} record of {}", r["program"]);
    let obj = r.as_object().expect("records are objects");
    let mut keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    let status = r["status"].as_str().unwrap_or_else(|| panic!("{ctx}: status {}", r["status"]));
    assert!(
        ["passed", "failed", "crashed", "timed_out", "ignored"].contains(&status),
        "{ctx}: unknown status {status:?}"
    );
    let failure = FAILURES.contains(&status);
    assert_eq!(keys.remove("signature"), failure, "{ctx}: a signature exactly for a failure ({status})");
    if failure {
        assert!(
            r["signature"].as_str().is_some_and(|s| !s.is_empty()),
            "{ctx}: signature {}",
            r["signature"]
        );
    }
    // A failure's record carries its reproduce command, an ignored failure's the pattern that matched.
    assert_eq!(keys.remove("reproduce"), failure, "{ctx}: a reproduce command exactly for a failure");
    assert_eq!(keys.remove("ignored_by"), status == "ignored", "{ctx}: ignored_by exactly when ignored");
    // Warm mode reruns a failure in a fresh executor unless it already ran in one; the corpus is
    // deterministic, so a failure checked that way must have been confirmed.
    if keys.remove("confirmed") {
        assert_eq!(mode, "warm", "{ctx}: confirmed outside warm mode");
        assert_ne!(status, "passed", "{ctx}: confirmed on a program that passed");
        assert_eq!(r["confirmed"], true, "{ctx}: a deterministic failure is confirmed");
    }
    // The embedded modes report how long the program itself ran, when the executor lived to say so.
    runner_tests::take_program_time(&mut keys, r, mode, &ctx);
    let want: BTreeSet<&str> = runner_tests::RESULT_KEYS.iter().chain(RECORD_KEYS).copied().collect();
    assert_eq!(keys, want, "{ctx}: record keys");
    assert_eq!(r["mode"], mode, "{ctx}: mode");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let started_at = r["started_at"].as_f64().unwrap_or(0.0);
    assert!(
        started_at > now - 3600.0 && started_at <= now,
        "{ctx}: started_at {started_at} is a recent time"
    );
    assert!(r["stdout"].is_string() && r["stderr"].is_string(), "{ctx}: streams are strings");
    assert!(r["duration"].as_f64().is_some_and(|d| d >= 0.0), "{ctx}: duration {}", r["duration"]);
    assert!(r["worker"].as_u64().is_some_and(|w| (w as usize) < workers), "{ctx}: worker {}", r["worker"]);
    assert!(r["device"].is_null() || r["device"].is_string(), "{ctx}: device {}", r["device"]);
    let returncode =
        r["returncode"].as_i64().unwrap_or_else(|| panic!("{ctx}: returncode {}", r["returncode"]));
    assert_eq!(r["success"], returncode == 0, "{ctx}: success");
    for stream in ["stdout", "stderr"] {
        assert!(r["truncated"][stream].is_boolean(), "{ctx}: truncated.{stream} {}", r["truncated"]);
    }
}

/// A failure bucket as the summary lists it.
#[derive(Debug)]
struct Bucket {
    count: usize,
    status: String,
    example: String,
    reproduce: String,
}

/// The failure buckets of a summary, by signature: the `Failure buckets (N distinct):` line, then per
/// bucket `Nx SIGNATURE [status]`, `e.g. PROGRAM` and `reproduce: COMMAND`. Checks N against the list.
fn buckets(summary: &str) -> BTreeMap<String, Bucket> {
    let mut lines = summary.lines().map(str::trim).skip_while(|l| !l.starts_with("Failure buckets ("));
    let Some(head) = lines.next() else { return BTreeMap::new() };
    let distinct: usize = head
        .strip_prefix("Failure buckets (")
        .and_then(|s| s.strip_suffix(" distinct):"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bucket header {head:?}"));
    let mut out = BTreeMap::new();
    let mut lines = lines.peekable();
    while let Some(first) = lines.peek().copied() {
        let Some((count, rest)) = first.split_once("x ") else { break };
        let Ok(count) = count.parse::<usize>() else { break };
        lines.next();
        let (signature, status) = rest
            .strip_suffix(']')
            .and_then(|r| r.rsplit_once(" ["))
            .unwrap_or_else(|| panic!("bucket line {first:?}"));
        let example = lines
            .next()
            .and_then(|l| l.strip_prefix("e.g. "))
            .unwrap_or_else(|| panic!("bucket {signature:?}: no `e.g. PROGRAM` line in\n{summary}"));
        let reproduce = lines
            .next()
            .and_then(|l| l.strip_prefix("reproduce: "))
            .unwrap_or_else(|| panic!("bucket {signature:?}: no `reproduce: COMMAND` line in\n{summary}"));
        // With a results file, `issue: runner report FILE --bucket ID` follows.
        if lines.peek().is_some_and(|l| l.starts_with("issue: runner report ")) {
            lines.next();
        }
        let bucket = Bucket {
            count,
            status: status.to_string(),
            example: example.to_string(),
            reproduce: reproduce.to_string(),
        };
        assert!(out.insert(signature.to_string(), bucket).is_none(), "bucket {signature:?} listed twice");
    }
    assert_eq!(
        out.len(),
        distinct,
        "`Failure buckets ({distinct} distinct)` lists {} buckets:\n{summary}",
        out.len()
    );
    out
}

/// Checks that `command` re-runs `program` with `runner run`, naming the batch's mode (or none, for the
/// default) and otherwise only flags that change how a program runs (the timeout, so that re-running a
/// timed-out program ends too).
fn assert_reproduces(command: &str, mode: &str, program: &str, ctx: &str) {
    let mut rest = command
        .strip_prefix("runner run ")
        .unwrap_or_else(|| panic!("{ctx}: reproduce command {command:?} is not `runner run ...`"));
    let mut saw_mode = None;
    while let Some(flag) =
        ["--mode", "--python", "--preload", "--timeout"].iter().find(|f| rest.starts_with(&format!("{f} ")))
    {
        let after = &rest[flag.len() + 1..];
        let (value, tail) =
            after.split_once(' ').unwrap_or_else(|| panic!("{ctx}: {command:?} ends in a flag"));
        if *flag == "--mode" {
            saw_mode = Some(value.to_string());
        }
        rest = tail;
    }
    assert_eq!(
        saw_mode.as_deref().unwrap_or("warm"),
        mode,
        "{ctx}: reproduce command {command:?} names the wrong mode"
    );
    assert_eq!(rest, program, "{ctx}: reproduce command {command:?}");
}

/// The counts line of the summary for these verdicts.
fn counts_line(statuses: &[&str]) -> String {
    let n = |s: &str| statuses.iter().filter(|&&x| x == s).count();
    format!(
        "passed {}, failed {}, crashed {}, timed out {}, ignored {}",
        n("passed"),
        n("failed"),
        n("crashed"),
        n("timed_out"),
        n("ignored")
    )
}

fn a_mixed_corpus_gives_one_whole_record_per_program_buckets_junit_and_exit_1(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("results.jsonl");
    let junit = dir.path().join("junit.xml");
    let root = corpus("mixed");
    let out = finish(
        batch()
            .args(["--mode", mode, "--workers", "2", "--timeout", TIMEOUT, "--ignore-pattern", "KnownIssue"])
            .args(["--max-output", &MAX_OUTPUT.to_string()])
            .arg("--output")
            .arg(&jsonl)
            .arg("--junit")
            .arg(&junit)
            .arg(&root),
    );
    let ctx = format!("batch --mode {mode} mixed/");
    assert_eq!(out.status.code(), Some(1), "{ctx}: exit code with failures; {}", describe(&out));

    // JSONL: one whole record per program, each with its verdict.
    let records = records(&jsonl);
    let got: BTreeSet<&str> = records.iter().map(program_of).collect();
    let want: BTreeSet<String> = MIXED.iter().map(|r| path_str(&root.join(r.path)).to_string()).collect();
    assert_eq!(
        got,
        want.iter().map(String::as_str).collect(),
        "{ctx}: the programs recorded (the walk recurses into sub/ and takes only *.py)"
    );
    assert_eq!(records.len(), MIXED.len(), "{ctx}: one record per program");
    for r in &records {
        assert_record_shape(r, mode, 2);
        let program = program_of(r);
        let index = index_of(r);
        let row = MIXED.get(index).unwrap_or_else(|| panic!("{ctx}: index {index} out of range: {r}"));
        let ctx = format!("{ctx}: {}", row.path);
        assert_eq!(program, path_str(&root.join(row.path)), "{ctx}: index {index} is its sorted position");
        assert_eq!(r["status"], row.status, "{ctx}: status; record {r}");
        assert_eq!(r["returncode"], row.returncode, "{ctx}: returncode");
        assert_eq!(r["signature"].as_str(), row.signature, "{ctx}: signature");
        assert_eq!(r["timed_out"], row.timed_out, "{ctx}: timed_out");
        assert_eq!(r["truncated"]["stdout"], row.truncated, "{ctx}: truncated.stdout");
        assert_eq!(r["truncated"]["stderr"], false, "{ctx}: truncated.stderr");
        assert_eq!(r["leaked_pipes"], false, "{ctx}: leaked_pipes");
        assert_eq!(r["device"], Value::Null, "{ctx}: no device on a machine without CUDA_VISIBLE_DEVICES");
        let stdout = r["stdout"].as_str().unwrap();
        if row.truncated {
            assert_eq!(stdout, "x".repeat(MAX_OUTPUT), "{ctx}: the first --max-output bytes are kept");
        } else {
            assert_eq!(stdout, row.stdout, "{ctx}: stdout");
        }
        // Exit code 1 is an uncaught exception: its signature is the traceback's last line on stderr.
        if let Some(sig) = row.signature.filter(|_| row.returncode == 1) {
            let stderr = r["stderr"].as_str().unwrap();
            assert!(stderr.ends_with(&format!("{sig}\n")), "{ctx}: stderr ends with {sig:?}: {stderr:?}");
        }
    }

    // Summary: counts, then one bucket per signature with its count and a reproduce command.
    let summary = text(&out.stdout);
    let statuses: Vec<&str> = MIXED.iter().map(|r| r.status).collect();
    let counts = counts_line(&statuses);
    assert!(summary.lines().any(|l| l.trim() == counts), "{ctx}: summary lacks {counts:?}:\n{summary}");
    let mut want_buckets: BTreeMap<&str, (usize, &str, BTreeSet<String>)> = BTreeMap::new();
    for r in MIXED {
        if let Some(sig) = r.signature {
            let b = want_buckets.entry(sig).or_insert((0, r.status, BTreeSet::new()));
            b.0 += 1;
            b.2.insert(path_str(&root.join(r.path)).to_string());
        }
    }
    let got_buckets = buckets(&summary);
    assert_eq!(
        got_buckets.keys().map(String::as_str).collect::<Vec<_>>(),
        want_buckets.keys().copied().collect::<Vec<_>>(),
        "{ctx}: bucket signatures (`Failure buckets ({} distinct)`):\n{summary}",
        want_buckets.len()
    );
    for (sig, (count, status, members)) in &want_buckets {
        let b = &got_buckets[*sig];
        let ctx = format!("{ctx}: bucket {sig:?}");
        assert_eq!(b.count, *count, "{ctx}: count");
        assert_eq!(b.status, *status, "{ctx}: status");
        assert!(members.contains(&b.example), "{ctx}: example {} is not one of {members:?}", b.example);
        assert_reproduces(&b.reproduce, mode, &b.example, &ctx);
    }

    // JUnit: one testcase per program, the failures counted (ignored ones are not failures).
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("{ctx}: read the JUnit file: {e}"));
    let failures = MIXED.iter().filter(|r| FAILURES.contains(&r.status)).count();
    assert!(xml.starts_with("<?xml"), "{ctx}: JUnit is not XML:\n{xml}");
    assert_eq!(xml.matches("<testcase ").count(), MIXED.len(), "{ctx}: one testcase per program:\n{xml}");
    let suite = xml
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("<testsuite "))
        .unwrap_or_else(|| panic!("{ctx}: JUnit has no <testsuite>:\n{xml}"));
    for attr in [format!("tests=\"{}\"", MIXED.len()), format!("failures=\"{failures}\"")] {
        assert!(suite.contains(&attr), "{ctx}: JUnit testsuite lacks {attr}: {suite}");
    }
    for r in MIXED {
        let name = format!("name=\"{}\"", path_str(&root.join(r.path)));
        assert!(xml.contains(&name), "{ctx}: JUnit has no testcase {name}");
    }
    assert!(xml.trim_end().ends_with("</testsuites>"), "{ctx}: JUnit is cut:\n{xml}");
}

#[test]
fn the_exit_code_is_0_when_every_failure_is_ignored_and_1_otherwise() {
    /// (programs of mixed/, extra flags, exit code, the verdicts of the records in sorted order)
    type Case<'a> = (&'a [&'a str], &'a [&'a str], i32, &'a [&'a str]);
    let cases: &[Case] = &[
        (&["pass_a.py", "pass_b.py"], &[], 0, &["passed", "passed"]),
        (&["pass_a.py", "known_issue.py"], &["--ignore-pattern", "KnownIssue"], 0, &["ignored", "passed"]),
        // Any pattern of several may match; an unmatched one changes nothing.
        (
            &["known_issue.py", "pass_a.py"],
            &["--ignore-pattern", "no such text", "--ignore-pattern", "Known.ssue: this"],
            0,
            &["ignored", "passed"],
        ),
        (&["pass_a.py", "known_issue.py"], &[], 1, &["failed", "passed"]),
        (&["pass_a.py", "known_issue.py"], &["--ignore-pattern", "no such text"], 1, &["failed", "passed"]),
        (&["key_error.py", "known_issue.py"], &["--ignore-pattern", "KnownIssue"], 1, &["failed", "ignored"]),
        (&["segfault.py"], &[], 1, &["crashed"]),
        (&["exit_code.py", "pass_b.py"], &[], 1, &["failed", "passed"]),
    ];
    for (programs, extra, code, statuses) in cases {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("results.jsonl");
        let paths: Vec<PathBuf> = programs.iter().map(|p| corpus("mixed").join(p)).collect();
        let out = finish(batch().args(*extra).arg("--output").arg(&jsonl).args(&paths));
        let ctx = format!("batch {extra:?} {programs:?}");
        assert_eq!(out.status.code(), Some(*code), "{ctx}: exit code; {}", describe(&out));
        let mut records = records(&jsonl);
        records.sort_by_key(index_of);
        let got: Vec<&str> = records.iter().map(|r| r["status"].as_str().unwrap_or_default()).collect();
        assert_eq!(got, *statuses, "{ctx}: verdicts");
        let counts = counts_line(statuses);
        let summary = text(&out.stdout);
        assert!(summary.lines().any(|l| l.trim() == counts), "{ctx}: summary lacks {counts:?}:\n{summary}");
    }
}

#[test]
fn results_that_cannot_be_written_end_the_batch_with_3_and_say_so() {
    // /dev/full opens, and every write to it fails (ENOSPC): the run completes, its results do not.
    let out = finish(batch().args(["--output", "/dev/full"]).arg(corpus("mixed/pass_a.py")));
    let ctx = "batch --output /dev/full pass_a.py";
    assert_eq!(out.status.code(), Some(3), "{ctx}: exit code; {}", describe(&out));
    let summary = text(&out.stdout);
    assert!(
        summary.lines().any(|l| l.starts_with("runner error: cannot write the results file /dev/full: ")
            && l.ends_with("1 results not written (--resume runs them)")),
        "{ctx}: the summary names the file and the lost results:\n{summary}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.lines().any(|l| l.starts_with("runner: error: cannot write the results file /dev/full: ")),
        "{ctx}: stderr names the file when the write fails:\n{stderr}"
    );
}

#[test]
fn usage_errors_exit_2_with_one_line_on_stderr_and_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pass = corpus("mixed/pass_a.py");
    let missing = dir.path().join("missing.py");
    let empty_dir = dir.path().join("no_programs");
    std::fs::create_dir(&empty_dir).unwrap();
    let list_with_missing = dir.path().join("list.txt");
    std::fs::write(&list_with_missing, format!("{}\n{}\n", pass.display(), missing.display())).unwrap();
    let (pass, missing, empty_dir, list) =
        (path_str(&pass), path_str(&missing), path_str(&empty_dir), path_str(&list_with_missing));
    // (what is wrong, arguments; `--output OUT` is added to every case but the one about --output)
    let cases: &[(&str, &[&str])] = &[
        ("no inputs", &[]),
        ("a missing file among the inputs", &[pass, missing]),
        ("a list naming a missing file", &["--from-list", list]),
        ("an unreadable list", &["--from-list", missing]),
        ("a directory without programs", &[empty_dir]),
        ("--workers 0", &[pass, "--workers", "0"]),
        ("--workers that is not a number", &[pass, "--workers", "two"]),
        ("a bad --ignore-pattern regex", &[pass, "--ignore-pattern", "("]),
        ("an unknown --mode", &[pass, "--mode", "lukewarm"]),
        ("a --junit file that cannot be created", &[pass, "--junit", "/nonexistent/dir/junit.xml"]),
        ("a --timeout no duration can hold", &[pass, "--timeout", "1e300"]),
        ("a negative --interrupt-grace", &[pass, "--interrupt-grace", "-1"]),
        ("an --interrupt-grace that is not a number", &[pass, "--interrupt-grace", "NaN"]),
    ];
    // Every case is checked, and every wrong one reported, before the test fails.
    let mut wrong = Vec::new();
    let mut check = |what: &str, cmd: &mut Command, output: Option<&Path>| {
        let out = finish(cmd);
        let stderr = text(&out.stderr);
        let written = output.map(|o| std::fs::read(o).unwrap_or_default()).unwrap_or_default();
        let problems: Vec<String> = [
            (out.status.code() != Some(2), format!("exit code {:?}, want 2", out.status.code())),
            (
                stderr.lines().count() != 1,
                format!("{} lines on stderr, want exactly one", stderr.lines().count()),
            ),
            (stderr.trim().is_empty(), "no line on stderr says what is wrong".to_string()),
            (!out.stdout.is_empty(), "something on stdout (a summary? nothing should have run)".to_string()),
            (!written.is_empty(), format!("results were written: {}", text(&written))),
        ]
        .into_iter()
        .filter_map(|(bad, problem)| bad.then_some(problem))
        .collect();
        if !problems.is_empty() {
            wrong.push(format!("{what}: {}\n  {cmd:?}\n  {}", problems.join("; "), describe(&out)));
        }
    };
    for (i, (what, args)) in cases.iter().enumerate() {
        let output = dir.path().join(format!("results-{i}.jsonl"));
        check(what, batch().args(*args).arg("--output").arg(&output), Some(&output));
    }
    check("--resume without --output", batch().args([pass, "--resume"]), None);
    check(
        "an --output that cannot be created",
        batch().args([pass, "--output", "/nonexistent/dir/r.jsonl"]),
        None,
    );
    assert!(wrong.is_empty(), "usage errors handled wrongly:\n{}", wrong.join("\n"));
}

#[test]
fn resume_runs_only_the_programs_missing_from_the_output_and_appends_them() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("results.jsonl");
    let root = corpus("sequence");
    let all: Vec<String> = SEQUENCE.iter().map(|p| path_str(&root.join(p)).to_string()).collect();

    // An earlier run recorded 01, 02, 04 and was cut in the middle of 05's line (one worker: 05 is
    // written last). 03 (the failure), 05 (cut), 06, 07 and 08 are missing.
    let recorded = [0, 1, 3];
    let cut = 4;
    let first: Vec<&String> = recorded.iter().chain([&cut]).map(|&i| &all[i]).collect();
    let out = finish(batch().args(["--workers", "1", "--output"]).arg(&jsonl).args(&first));
    assert_eq!(out.status.code(), Some(0), "the earlier run; {}", describe(&out));
    let earlier = std::fs::read_to_string(&jsonl).unwrap();
    let lines: Vec<&str> = earlier.lines().collect();
    assert_eq!(lines.len(), 4, "the earlier run records four programs:\n{earlier}");
    assert!(lines[3].contains(&format!("\"program\":{}", Value::from(all[cut].as_str()))), "{}", lines[3]);
    let kept: String = lines[..3].iter().map(|l| format!("{l}\n")).collect();
    let half_line = &lines[3][..lines[3].len() / 2];
    std::fs::write(&jsonl, format!("{kept}{half_line}")).unwrap();

    let out = finish(batch().args(["--workers", "2", "--resume", "--output"]).arg(&jsonl).arg(&root));
    assert_eq!(out.status.code(), Some(1), "the resumed run (03 fails); {}", describe(&out));
    let after = std::fs::read_to_string(&jsonl).unwrap();
    assert!(after.starts_with(&kept), "the whole records already there are kept as they were:\n{after}");
    let records = records(&jsonl);
    let appended: BTreeSet<&str> = records[3..].iter().map(program_of).collect();
    let missing: BTreeSet<&str> =
        (0..all.len()).filter(|i| !recorded.contains(i)).map(|i| all[i].as_str()).collect();
    assert_eq!(appended, missing, "the resumed run records exactly the missing programs:\n{after}");
    let mut programs: Vec<&str> = records.iter().map(program_of).collect();
    programs.sort();
    assert_eq!(programs, all, "one whole record per program in the end:\n{after}");
    for r in &records[3..] {
        assert_record_shape(r, "warm", 2);
        let i = index_of(r);
        assert_eq!(program_of(r), all[i], "a resumed record's index is its place in the whole list");
        let want = if i == SEQUENCE_FAILURE { "failed" } else { "passed" };
        assert_eq!(r["status"], want, "{}", program_of(r));
    }

    // Nothing is missing any more: a third run runs nothing and leaves the file as it is.
    let out = finish(batch().args(["--resume", "--output"]).arg(&jsonl).arg(&root));
    assert_ne!(out.status.code(), Some(2), "resuming a complete run is no error; {}", describe(&out));
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap(), after, "a complete run is not run again");
}

fn one_worker_runs_programs_in_sorted_order(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("results.jsonl");
    let root = corpus("sequence");
    // The inputs name the files in reverse: the order is the sorted one, not the given one.
    let reversed: Vec<PathBuf> = SEQUENCE.iter().rev().map(|p| root.join(p)).collect();
    let out =
        finish(batch().args(["--mode", mode, "--workers", "1", "--output"]).arg(&jsonl).args(&reversed));
    let ctx = format!("batch --mode {mode} --workers 1");
    assert_eq!(out.status.code(), Some(1), "{ctx}: exit code (03 fails); {}", describe(&out));
    let records = records(&jsonl);
    let got: Vec<(usize, &str)> = records.iter().map(|r| (index_of(r), program_of(r))).collect();
    let want: Vec<(usize, String)> =
        SEQUENCE.iter().enumerate().map(|(i, p)| (i, path_str(&root.join(p)).to_string())).collect();
    let want: Vec<(usize, &str)> = want.iter().map(|(i, p)| (*i, p.as_str())).collect();
    assert_eq!(got, want, "{ctx}: records in sorted order, indices ascending");
    for r in &records {
        assert_record_shape(r, mode, 1);
    }
}

fn fail_fast_stops_scheduling_and_prints_the_reproduce_command(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("results.jsonl");
    let root = corpus("sequence");
    let out = finish(
        batch().args(["--mode", mode, "--workers", "1", "--fail-fast", "--output"]).arg(&jsonl).arg(&root),
    );
    let ctx = format!("batch --mode {mode} --workers 1 --fail-fast sequence/");
    assert_eq!(out.status.code(), Some(1), "{ctx}: exit code; {}", describe(&out));
    let records = records(&jsonl);
    let failing = path_str(&root.join(SEQUENCE[SEQUENCE_FAILURE])).to_string();
    let programs: Vec<&str> = records.iter().map(program_of).collect();
    // The programs before the failure and the failure itself ran, in order; scheduling stopped there:
    // the worker that saw the failure takes no further program.
    let upto: Vec<String> =
        SEQUENCE[..=SEQUENCE_FAILURE].iter().map(|p| path_str(&root.join(p)).to_string()).collect();
    assert!(
        programs.len() >= upto.len() && programs[..upto.len()] == upto[..],
        "{ctx}: the programs up to the failure run first, in order: {programs:?}"
    );
    assert!(
        programs.len() == upto.len(),
        "{ctx}: {} of {} programs ran: scheduling did not stop at the failure: {programs:?}",
        programs.len(),
        SEQUENCE.len()
    );
    let summary = text(&out.stdout);
    let after: Vec<&str> =
        summary.lines().map(str::trim).skip_while(|l| !l.contains("--fail-fast")).skip(1).collect();
    assert!(!after.is_empty(), "{ctx}: the summary says it stopped at the failure (--fail-fast):\n{summary}");
    assert!(
        after.iter().any(|l| l.starts_with("runner run ") && l.ends_with(&failing)),
        "{ctx}: a reproduce command for {failing} follows the --fail-fast line:\n{summary}"
    );
    let command = after.iter().find(|l| l.starts_with("runner run ")).unwrap();
    assert_reproduces(command, mode, &failing, &ctx);
}

#[test]
fn from_list_reads_a_file_or_stdin_with_comments_and_relative_paths() {
    let root = corpus("mixed");
    // A comment, a blank line, padding, a duplicate, a path relative to the working directory and one
    // also given as an argument: the batch is the sorted, deduplicated union.
    let list = format!(
        "# programs to run\n\n{}\n  {}  \npass_b.py\n{}\n",
        root.join("value_error_2.py").display(),
        root.join("sub/pass_nested.py").display(),
        root.join("value_error_2.py").display(),
    );
    let argument = root.join("pass_a.py");
    let want: Vec<String> = ["pass_a.py", "pass_b.py", "sub/pass_nested.py", "value_error_2.py"]
        .iter()
        .map(|p| path_str(&root.join(p)).to_string())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let list_file = dir.path().join("programs.txt");
    std::fs::write(&list_file, &list).unwrap();
    let cases: &[(&str, &Path, Option<&[u8]>)] =
        &[("a list file", &list_file, None), ("stdin", Path::new("-"), Some(list.as_bytes()))];
    for (what, from, input) in cases {
        let jsonl = dir.path().join("results.jsonl");
        let mut cmd = batch();
        cmd.current_dir(&root).args(["--workers", "1", "--from-list"]).arg(from).arg("--output").arg(&jsonl);
        let out = finish_within(cmd.arg(&argument), *input, HANG_LIMIT);
        let ctx = format!("batch --from-list from {what}");
        assert_eq!(out.status.code(), Some(1), "{ctx}: exit code (value_error_2 fails); {}", describe(&out));
        let records = records(&jsonl);
        let got: Vec<(usize, &str)> = records.iter().map(|r| (index_of(r), program_of(r))).collect();
        let want: Vec<(usize, &str)> = want.iter().map(String::as_str).enumerate().collect();
        assert_eq!(got, want, "{ctx}: the programs, sorted and deduplicated");
    }
}

#[test]
fn directories_are_walked_recursively_for_py_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("results.jsonl");
    let sub = corpus("mixed/sub");
    let out = finish(batch().arg("--output").arg(&jsonl).arg(&sub));
    assert_eq!(out.status.code(), Some(0), "batch mixed/sub/; {}", describe(&out));
    let mut got: Vec<String> = records(&jsonl).iter().map(|r| program_of(r).to_string()).collect();
    got.sort();
    let want: Vec<String> = ["deeper/pass_deep.py", "pass_nested.py"]
        .iter()
        .map(|p| path_str(&sub.join(p)).to_string())
        .collect();
    assert_eq!(got, want, "the walk finds the *.py files at every depth, and nothing else");
}

/// Runs the `devices/` corpus in `mode` on `workers` workers, with `CUDA_VISIBLE_DEVICES=visible` (or
/// unset) and `extra` flags, and checks that worker i's programs got `devices[i mod n]` (or no device,
/// for `None`): in the record and in the program's own environment.
fn assert_devices(
    mode: &str,
    visible: Option<&str>,
    extra: &[&str],
    workers: usize,
    devices: Option<&[String]>,
) {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("results.jsonl");
    let mut cmd = batch();
    if let Some(visible) = visible {
        cmd.env("CUDA_VISIBLE_DEVICES", visible);
    }
    cmd.args(["--mode", mode, "--workers", &workers.to_string()]).args(extra);
    let out = finish(cmd.arg("--output").arg(&jsonl).arg(corpus("devices")));
    let ctx =
        format!("batch --mode {mode} --workers {workers} {extra:?} with CUDA_VISIBLE_DEVICES={visible:?}");
    assert_eq!(out.status.code(), Some(0), "{ctx}: exit code; {}", describe(&out));
    let records = records(&jsonl);
    assert_eq!(records.len(), 6, "{ctx}: one record per program");
    for r in &records {
        assert_record_shape(r, mode, workers);
        let worker = r["worker"].as_u64().unwrap() as usize;
        let want = devices.map(|d| d[worker % d.len()].as_str());
        let ctx = format!("{ctx}: {} on worker {worker}", program_of(r));
        assert_eq!(r["device"], want.map_or(Value::Null, Value::from), "{ctx}: the record's device");
        let printed = format!("{}\n", want.unwrap_or("None"));
        assert_eq!(r["stdout"], printed, "{ctx}: the program's CUDA_VISIBLE_DEVICES agrees with its record");
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn workers_are_spread_round_robin_over_a_fake_gpu_list(mode: &str) {
    assert_devices(mode, Some("7,9"), &[], 2, Some(&strings(&["7", "9"])));
}

/// How many GPUs `nvidia-smi` lists (0 without one): what `--skip-primary-device` leaves depends on it.
fn gpu_count() -> usize {
    Command::new("nvidia-smi")
        .arg("-L")
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or(0, |o| text(&o.stdout).lines().filter(|l| l.starts_with("GPU ")).count())
}

#[test]
fn devices_flag_overrides_and_skip_primary_device_leaves_gpu_0() {
    assert_devices("subprocess", Some("7,9"), &["--devices", "a,b,c"], 3, Some(&strings(&["a", "b", "c"])));
    assert_devices("warm", None, &["--devices", "x"], 2, Some(&strings(&["x"])));
    // Without CUDA_VISIBLE_DEVICES the GPUs are counted; GPU 0 is left to the parent when there are
    // several (run_and_validate's rule). On a machine without GPUs there is no device at all.
    let skip_primary: Option<Vec<String>> = match gpu_count() {
        0 => None,
        1 => Some(strings(&["0"])),
        n => Some((1..n).map(|i| i.to_string()).collect()),
    };
    assert_devices("subprocess", None, &["--skip-primary-device"], 2, skip_primary.as_deref());
}

/// A `runner batch` running in the background over `sleepers/` (`00_quick.py`, then programs that
/// announce themselves and sleep until killed), on two workers, quiet, with its results in `jsonl`.
struct Interruptible {
    pid: u32,
    exit: mpsc::Receiver<ExitStatus>,
    exited: bool,
    stdout: Option<JoinHandle<String>>,
    stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
    announcements: mpsc::Receiver<(u32, u32)>,
    /// The test's own write end of the FIFO, to end the reader thread.
    fifo: std::fs::File,
    state: tempfile::TempDir,
    jsonl: PathBuf,
}

impl Interruptible {
    fn start(mode: &str, grace: Duration) -> Self {
        let state = tempfile::tempdir().unwrap();
        let fifo = state.path().join("started");
        let made = Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
        assert!(made.success(), "mkfifo {}", fifo.display());
        // Opened for reading and writing: the open does not wait for a writer, the programs' opens do
        // not wait either, and reads never meet an end of file between two programs' announcements.
        let reader = OpenOptions::new().read(true).write(true).open(&fifo).expect("open the FIFO");
        let writer = reader.try_clone().expect("dup the FIFO");
        let (tx, announcements) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                let mut ids = line.split_whitespace().map(|w| w.parse::<u32>());
                let (Some(Ok(pid)), Some(Ok(ppid))) = (ids.next(), ids.next()) else { break };
                if tx.send((pid, ppid)).is_err() {
                    break;
                }
            }
        });

        let jsonl = state.path().join("results.jsonl");
        let mut child = batch()
            .env("BATCH_TEST_DIR", state.path())
            .args(["--mode", mode, "--workers", "2", "--quiet", "--output"])
            .arg(&jsonl)
            .arg("--interrupt-grace")
            .arg(grace.as_secs_f64().to_string())
            .arg(corpus("sleepers"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the runner");
        let pid = child.id();
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            text(&s)
        });
        let err = child.stderr.take().unwrap();
        let (tx, stderr) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (tx, exit) = mpsc::channel();
        std::thread::spawn(move || {
            if let Ok(status) = child.wait() {
                let _ = tx.send(status);
            }
        });
        Interruptible {
            pid,
            exit,
            exited: false,
            stdout: Some(stdout),
            stderr,
            stderr_seen: Vec::new(),
            announcements,
            fifo: writer,
            state,
            jsonl,
        }
    }

    /// Waits until `n` programs have announced that they run; their (pid, parent pid).
    fn wait_for_programs(&mut self, n: usize) -> Vec<(u32, u32)> {
        let deadline = Instant::now() + HANG_LIMIT;
        (0..n)
            .map(|i| {
                let left = deadline.saturating_duration_since(Instant::now());
                self.announcements.recv_timeout(left).unwrap_or_else(|_| {
                    panic!(
                        "{i} of {n} programs started within {HANG_LIMIT:?}; stderr: {:?}",
                        self.stderr_lines()
                    )
                })
            })
            .collect()
    }

    /// Waits for a line of the runner's stderr containing `needle`.
    fn wait_for_stderr(&mut self, needle: &str) {
        let deadline = Instant::now() + HANG_LIMIT;
        while !self.stderr_seen.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.stderr_seen.push(line),
                Err(_) => {
                    panic!("no stderr line with {needle:?} within {HANG_LIMIT:?}: {:?}", self.stderr_seen)
                }
            }
        }
    }

    fn stderr_lines(&mut self) -> Vec<String> {
        self.stderr_seen.extend(self.stderr.try_iter());
        self.stderr_seen.clone()
    }

    /// Waits for the runner to exit until `deadline`; `None` if it is still running then.
    fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        let status = self.exit.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()?;
        self.exited = true;
        Some(status)
    }

    /// The runner's stdout, once it has exited.
    fn stdout(&mut self) -> String {
        self.stdout.take().expect("stdout taken once").join().expect("stdout reader")
    }

    /// The pids the sleepers recorded, with their parents: every one must be dead once the runner is.
    fn recorded_pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        for entry in std::fs::read_dir(self.state.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "pid") {
                let line = std::fs::read_to_string(&path).unwrap();
                pids.extend(line.split_whitespace().map(|w| w.parse::<u32>().expect("a pid")));
            }
        }
        pids
    }
}

impl Drop for Interruptible {
    fn drop(&mut self) {
        // A failed test must not leave the runner behind; its pid is not reaped before `exited`.
        if !self.exited && self.exit.try_recv().is_err() {
            let _ = Command::new("kill").args(["-KILL", &self.pid.to_string()]).status();
        }
        // Ends the FIFO reader thread (a line that is not two pids).
        let _ = self.fifo.write_all(b"end\n");
    }
}

/// What holds after any Ctrl-C: whole JSONL lines only, `00_quick.py` (done before both sleepers
/// started) recorded as passed, no sleeper that had not started when Ctrl-C came (scheduling stopped),
/// and every program process and its parent (executor, zygote) dead.
fn assert_interrupted_cleanly(batch: &Interruptible, ctx: &str) {
    let records = records(&batch.jsonl);
    let quick = path_str(&corpus("sleepers/00_quick.py")).to_string();
    let quick_record = records.iter().find(|r| program_of(r) == quick);
    assert!(
        quick_record.is_some_and(|r| r["status"] == "passed"),
        "{ctx}: 00_quick.py, finished before the Ctrl-C, is recorded as passed: {records:?}"
    );
    let programs: BTreeSet<&str> = records.iter().map(program_of).collect();
    assert_eq!(programs.len(), records.len(), "{ctx}: a program recorded twice: {records:?}");
    for late in ["sleeper_3.py", "sleeper_4.py"] {
        let path = path_str(&corpus("sleepers").join(late)).to_string();
        assert!(!programs.contains(path.as_str()), "{ctx}: {late} was started after the Ctrl-C");
        assert!(
            !batch.state.path().join(format!("{late}.pid")).exists(),
            "{ctx}: {late} was started after the Ctrl-C"
        );
    }
    assert_all_die(&batch.recorded_pids(), &format!("{ctx}: the interrupted programs and their parents"));
}

fn first_ctrl_c_stops_scheduling_kills_after_the_grace_and_exits_130(mode: &str) {
    interrupted_once(mode, "INT");
}

/// SIGTERM (Slurm's preemption, `kill`, a container's stop) is handled like the first Ctrl-C.
#[test]
fn a_sigterm_is_handled_like_the_first_ctrl_c() {
    interrupted_once("warm", "TERM");
}

fn interrupted_once(mode: &str, signal: &str) {
    let ctx = format!("batch --mode {mode} --workers 2 sleepers/, one SIG{signal}");
    let mut batch = Interruptible::start(mode, SHORT_GRACE);
    // Both workers are busy with a sleeper (so 00_quick.py is done).
    batch.wait_for_programs(2);
    // Taken before the signal: the runner's grace starts after it.
    let interrupted = Instant::now();
    kill(batch.pid, signal);
    // The sleepers never end on their own: the runner must kill them when the grace is over, and
    // not before.
    let limit = SHORT_GRACE + Duration::from_secs(30);
    let Some(status) = batch.wait_until(interrupted + limit) else {
        panic!(
            "{ctx}: still running {limit:?} after Ctrl-C (--interrupt-grace {SHORT_GRACE:?}); stderr: {:?}",
            batch.stderr_lines()
        )
    };
    assert!(
        interrupted.elapsed() >= SHORT_GRACE,
        "{ctx}: the running programs were killed {:?} after Ctrl-C, before the grace of {SHORT_GRACE:?}",
        interrupted.elapsed()
    );
    assert_eq!(status.code(), Some(130), "{ctx}: exit code; stderr: {:?}", batch.stderr_lines());
    let summary = batch.stdout();
    assert!(summary.contains("interrupted"), "{ctx}: the summary says the run was interrupted:\n{summary}");
    assert_interrupted_cleanly(&batch, &ctx);
    assert_killed_sleepers_are_not_recorded(&batch, &summary, &ctx);
    assert_resume_completes(&batch, mode, &ctx);
}

/// `--resume` after an interrupted run runs what has no record (the sleepers, cut short by a timeout
/// this time), and every program then has exactly one record.
fn assert_resume_completes(run: &Interruptible, mode: &str, ctx: &str) {
    let out = finish(
        batch()
            .env("BATCH_TEST_DIR", run.state.path())
            .args(["--mode", mode, "--workers", "2", "--quiet", "--resume", "--timeout", "1", "--output"])
            .arg(&run.jsonl)
            .arg(corpus("sleepers")),
    );
    assert_eq!(out.status.code(), Some(1), "{ctx}, then --resume: the sleepers time out; {}", describe(&out));
    let records = records(&run.jsonl);
    let programs: BTreeSet<&str> = records.iter().map(program_of).collect();
    assert_eq!(
        (programs.len(), records.len()),
        (5, 5),
        "{ctx}, then --resume: every program once: {records:?}"
    );
}

/// The two sleepers that were running when the grace ended were killed by runner, not crashed: they
/// have no record (so `--resume` runs them again), and the summary counts them as cancelled.
fn assert_killed_sleepers_are_not_recorded(batch: &Interruptible, summary: &str, ctx: &str) {
    let records = records(&batch.jsonl);
    for r in &records {
        assert!(
            !program_of(r).contains("sleeper_"),
            "{ctx}: a sleeper killed by the interrupt has a record, as if it had crashed: {r}"
        );
    }
    assert!(
        summary.lines().any(|l| l.trim_start().starts_with("cancelled 2:")),
        "{ctx}: the summary counts the two killed sleepers as cancelled:\n{summary}"
    );
}

fn second_ctrl_c_kills_at_once(mode: &str) {
    let ctx = format!("batch --mode {mode} --workers 2 sleepers/, two Ctrl-C");
    let mut batch = Interruptible::start(mode, INTERRUPT_GRACE);
    batch.wait_for_programs(2);
    kill(batch.pid, "INT");
    let first = Instant::now();
    // The runner says it took the first one; only then is a second signal a second Ctrl-C (two
    // pending SIGINTs are one).
    batch.wait_for_stderr("interrupted");
    kill(batch.pid, "INT");
    // The sleepers never end on their own, so exiting before the grace is over means the second
    // Ctrl-C killed them. The bound is the grace itself: generous for a kill.
    let Some(status) = batch.wait_until(first + INTERRUPT_GRACE) else {
        panic!(
            "{ctx}: still running when the grace ({INTERRUPT_GRACE:?}) of the first Ctrl-C ended: the second did not kill at once; stderr: {:?}",
            batch.stderr_lines()
        )
    };
    assert_eq!(status.code(), Some(130), "{ctx}: exit code; stderr: {:?}", batch.stderr_lines());
    let summary = batch.stdout();
    assert_interrupted_cleanly(&batch, &ctx);
    assert_killed_sleepers_are_not_recorded(&batch, &summary, &ctx);
}

/// Engine failures are reported as such, never as a program's returncode: each such program gets a
/// record with `status: "engine_failed"` and what failed, the batch exits 3, and `--resume` runs it
/// again (it has no result yet). Only the embedded engines have an executor or a zygote to fail.
mod engine_failures {
    use super::*;

    runner_tests::per_mode!(warm, fork; {
        an_executor_that_fails_hands_the_program_to_python,
    });

    /// Writes `files` (name, source) into a fresh directory.
    fn programs(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, source) in files {
            std::fs::write(dir.path().join(name), source).unwrap();
        }
        dir
    }

    fn record_of<'a>(records: &'a [Value], dir: &Path, name: &str) -> Vec<&'a Value> {
        let path = dir.join(name);
        records.iter().filter(|r| program_of(r) == path_str(&path)).collect()
    }

    /// A program that finds runner's private executor module through the garbage collector and
    /// breaks it: the executor's own code fails after the program, not the program (python exits 0).
    /// (Replacing what that code calls, as `gc.collect = None`, no longer reaches it.)
    const BREAKS_THE_EXECUTOR: &str = "import gc, types\ngc.unfreeze()\nfor m in gc.get_objects():\n    if type(m) is types.ModuleType and getattr(m, '__name__', '') == '_runner_executor':\n        m.finalize = None\nprint('hi')\n";

    /// A record whose result python gave after the embedded engine could not: the program's own
    /// result, `mode: "subprocess"`, and `fallback` saying from which mode and why.
    fn assert_fell_back(r: &Value, mode: &str, kind: &str, ctx: &str) {
        assert_eq!(r["mode"], "subprocess", "{ctx}: {r}");
        assert_eq!(r["fallback"]["from"], mode, "{ctx}: {r}");
        assert_eq!(r["fallback"]["engine_failure"]["kind"], kind, "{ctx}: {r}");
    }

    fn an_executor_that_fails_hands_the_program_to_python(mode: &str) {
        let dir = programs(&[("a_breaks.py", BREAKS_THE_EXECUTOR), ("b_pass.py", "print('ok')\n")]);
        let jsonl = dir.path().join("results.jsonl");
        let ctx = format!("batch --mode {mode} -j 1 a_breaks.py b_pass.py");
        let run = |resume: bool| {
            let mut cmd = batch();
            cmd.args(["--mode", mode, "--workers", "1", "--quiet", "--output"]).arg(&jsonl);
            cmd.arg("--junit").arg(dir.path().join("junit.xml"));
            if resume {
                cmd.arg("--resume");
            }
            finish(cmd.arg(dir.path().join("a_breaks.py")).arg(dir.path().join("b_pass.py")))
        };
        let out = run(false);
        assert_eq!(out.status.code(), Some(0), "{ctx}: exit code; {}", describe(&out));
        let recs = records(&jsonl);
        let broken = record_of(&recs, dir.path(), "a_breaks.py");
        assert_eq!(broken.len(), 1, "{ctx}: {recs:?}");
        let python = python_reference(&dir.path().join("a_breaks.py"), &[]);
        assert_eq!(broken[0]["returncode"], returncode(&python), "{ctx}: python's returncode: {}", broken[0]);
        assert_eq!(broken[0]["stdout"], text(&python.stdout), "{ctx}: python's stdout");
        assert_eq!(broken[0]["status"], "passed", "{ctx}: {}", broken[0]);
        assert_fell_back(broken[0], mode, "executor_failed", &ctx);
        let message = broken[0]["fallback"]["engine_failure"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("TypeError"), "{ctx}: the message is the executor's traceback: {message:?}");
        let neighbour = record_of(&recs, dir.path(), "b_pass.py");
        assert_eq!(neighbour.len(), 1, "{ctx}: {recs:?}");
        assert_eq!(
            (&neighbour[0]["status"], &neighbour[0]["mode"]),
            (&json!("passed"), &json!(mode)),
            "{ctx}"
        );

        let out = run(true);
        let ctx = format!("{ctx}, then --resume");
        assert_eq!(out.status.code(), Some(0), "{ctx}: exit code; {}", describe(&out));
        assert_eq!(records(&jsonl).len(), 2, "{ctx}: both programs have their result already");
    }

    #[test]
    fn an_executor_failure_after_other_programs_is_tried_again_in_a_fresh_executor() {
        // Warm mode: a failure in an executor that ran other programs may be their leftovers, so it
        // gets a fresh executor first; RUNNER_DEBUG shows both executors failing, then python runs it.
        let dir = programs(&[("a_pass.py", "print('ok')\n"), ("b_breaks.py", BREAKS_THE_EXECUTOR)]);
        let jsonl = dir.path().join("results.jsonl");
        let ctx = "batch --mode warm -j 1 a_pass.py b_breaks.py";
        let out = finish(
            batch()
                .env("RUNNER_DEBUG", "1")
                .args(["--mode", "warm", "--workers", "1", "--quiet", "--output"])
                .arg(&jsonl)
                .arg(dir.path()),
        );
        assert_eq!(out.status.code(), Some(0), "{ctx}: exit code; {}", describe(&out));
        let stderr = text(&out.stderr);
        let failed = stderr
            .lines()
            .filter(|l| l.contains("runner: debug: executor") && l.contains(" failed: "))
            .count();
        assert_eq!(failed, 2, "{ctx}: the used executor, then a fresh one, fail:\n{stderr}");
        let recs = records(&jsonl);
        let broken = record_of(&recs, dir.path(), "b_breaks.py");
        assert_eq!(broken.len(), 1, "{ctx}: one record for the program: {recs:?}");
        assert_eq!(broken[0]["stdout"], "hi\n", "{ctx}: {}", broken[0]);
        assert_fell_back(broken[0], "warm", "executor_failed", ctx);
    }
}

/// `--retries`: a failure runs again in a fresh executor; one that passes on a retry is flaky (its own
/// status, counted, listed, every failed run kept), one that fails every run stays a failure with all
/// its runs, and `--retry-on` limits the retries to matching failures.
fn retries_make_a_program_that_passes_on_a_second_run_flaky(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    // Fails on its first run (a file marks the second), as a random input or a GPU race might.
    std::fs::write(
        corpus.join("a_flaky.py"),
        "import os, sys\nmark = os.path.join(os.environ['STATE'], 'ran')\nif not os.path.exists(mark):\n    open(mark, 'w').close()\n    print('first run fails')\n    sys.exit(1)\nprint('second run passes')\n",
    )
    .unwrap();
    std::fs::write(corpus.join("b_always.py"), "import sys\nprint('always')\nsys.exit(2)\n").unwrap();
    std::fs::write(corpus.join("c_other.py"), "raise ValueError('not retried')\n").unwrap();
    let jsonl = dir.path().join("r.jsonl");
    let junit = dir.path().join("j.xml");
    let out = finish(
        batch()
            .env("STATE", &state)
            .args(["--mode", mode, "--workers", "1", "--retries", "2", "--retry-on", "first run|always"])
            .arg("--output")
            .arg(&jsonl)
            .arg("--junit")
            .arg(&junit)
            .arg(&corpus),
    );
    let ctx = format!("batch --mode {mode} --retries 2 --retry-on 'first run|always'");
    assert_eq!(out.status.code(), Some(1), "{ctx}: two programs fail; {}", describe(&out));
    let recs = records(&jsonl);
    let rec = |name: &str| recs.iter().find(|r| program_of(r).ends_with(name)).unwrap().clone();
    let flaky = rec("a_flaky.py");
    assert_eq!(
        (flaky["status"].as_str(), flaky["stdout"].as_str()),
        (Some("flaky"), Some("second run passes\n")),
        "{ctx}: {flaky}"
    );
    let earlier = flaky["retries"].as_array().expect("the failed run is kept");
    assert_eq!(earlier.len(), 1, "{ctx}: {flaky}");
    assert_eq!(
        (earlier[0]["returncode"].as_i64(), earlier[0]["stdout"].as_str()),
        (Some(1), Some("first run fails\n"))
    );
    let always = rec("b_always.py");
    assert_eq!(
        (always["status"].as_str(), always["retries"].as_array().map(Vec::len)),
        (Some("failed"), Some(2)),
        "{ctx}: {always}"
    );
    let other = rec("c_other.py");
    assert!(other.get("retries").is_none(), "{ctx}: --retry-on leaves it alone: {other}");
    let summary = text(&out.stdout);
    assert!(summary.contains("flaky 1"), "{ctx}: the summary counts it:\n{summary}");
    assert!(
        summary.lines().any(|l| l.contains("a_flaky.py") && l.contains("after 1 failed run")),
        "{ctx}: and lists it:\n{summary}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<flakyFailure ").count(), 1, "{ctx}: {xml}");
    assert_eq!(xml.matches("<rerunFailure ").count(), 2, "{ctx}: {xml}");
}

mod retries {
    use super::*;

    runner_tests::per_mode!(warm, subprocess; {
        retries_make_a_program_that_passes_on_a_second_run_flaky,
    });
}

/// The summary's wall time is the command's, the engine start-up shown apart (it used to leave the
/// start-up out without saying so). Two clocks of the same run, compared: the test's, around the
/// whole command, and the summary's; they may differ by the process's own start and exit.
#[test]
fn the_summary_s_wall_time_is_the_whole_command_s_with_the_start_up_apart() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..4 {
        std::fs::write(dir.path().join(format!("p{i}.py")), "import time\ntime.sleep(0.1)\n").unwrap();
    }
    let started = Instant::now();
    let out = finish(
        batch().args(["--mode", "warm", "--workers", "2", "--quiet", "--preload", "json"]).arg(dir.path()),
    );
    let measured = started.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let summary = text(&out.stdout);
    let line =
        summary.lines().find(|l| l.contains(", wall ")).unwrap_or_else(|| panic!("no wall time:\n{summary}"));
    let number = |after: &str| -> f64 {
        let rest = &line[line.find(after).unwrap() + after.len()..];
        rest[..rest.find('s').unwrap()].parse().unwrap()
    };
    let (wall, startup) = (number(", wall "), number("of which "));
    assert!(startup > 0.0 && startup < wall, "the start-up is part of the wall time: {line}");
    let slack = (0.05 * measured).max(0.1);
    assert!(
        (measured - wall).abs() <= slack,
        "the summary says {wall} s, the command took {measured:.3} s: {line}"
    );
    assert!(summary.contains("programs/s once started"), "throughput both ways:\n{summary}");
}

/// `--known-issues FILE`: failures that match an entry are ignored, each record says which issue it
/// hit, and the summary gives every entry's hits, those not hit included (a fixed bug?).
#[test]
fn known_issues_from_a_file_are_ignored_counted_and_an_entry_not_hit_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    std::fs::write(corpus.join("a.py"), "raise AssertionError('-1 in inductor')\n").unwrap();
    std::fs::write(corpus.join("b.py"), "raise AssertionError('-1 in inductor')\n").unwrap();
    std::fs::write(corpus.join("c.py"), "print('fine')\n").unwrap();
    let known = dir.path().join("known.toml");
    std::fs::write(
        &known,
        "[[issue]]\npattern = 'AssertionError: -1'\nissue = 'https://example.invalid/issues/1'\nnote = 'known assert'\n\n[[issue]]\npattern = 'CUDA error: an illegal memory access'\nissue = '#2'\n",
    )
    .unwrap();
    let jsonl = dir.path().join("r.jsonl");
    let out = finish(
        batch()
            .args(["--workers", "1", "--quiet", "--known-issues"])
            .arg(&known)
            .arg("--output")
            .arg(&jsonl)
            .arg(&corpus),
    );
    assert_eq!(out.status.code(), Some(0), "known failures do not fail the run; {}", describe(&out));
    let summary = text(&out.stdout);
    assert!(
        summary
            .lines()
            .any(|l| l.trim_start().starts_with("2x https://example.invalid/issues/1 (known assert)")),
        "the entry's hits:\n{summary}"
    );
    assert!(
        summary.lines().any(|l| l.contains("0x #2") && l.contains("not hit")),
        "the entry not hit:\n{summary}"
    );
    let recs = records(&jsonl);
    let a = recs.iter().find(|r| program_of(r).ends_with("a.py")).unwrap();
    assert_eq!(a["status"], "ignored", "{a}");
    assert_eq!(a["known_issue"]["issue"], "https://example.invalid/issues/1", "{a}");
    assert_eq!(a["ignored_by"], "AssertionError: -1", "{a}");

    // A file that is not one is a usage error naming the flag, in one line.
    std::fs::write(&known, "[[issue]]\npattern = '('\n").unwrap();
    let out = finish(batch().args(["--quiet", "--known-issues"]).arg(&known).arg(&corpus));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = text(&out.stderr);
    assert!(err.contains("--known-issues") && err.trim().lines().count() == 1, "{err}");
}
