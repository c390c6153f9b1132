//! End-to-end tests of `runner run` and `runner validate`: the real binary on the program fixtures of
//! `tests/fixtures/`, compared with what `python /abs/prog.py` itself does and with what torchfuzz's
//! ProgramRunner (the seed) prints and returns. Whatever runs a program must be indistinguishable from
//! that, so each behaviour test runs once per `--mode`, as `<mode>::<test>`: a failure in one engine
//! does not hide the others.
//!
//! Every runner invocation goes through [`finish`], which fails the test instead of hanging when the
//! runner does not return within [`HANG_LIMIT`]. Nothing here sleeps to wait for something or asserts
//! on timings.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use runner_tests::{
    assert_all_die, finish_within, fixture, json, python_reference, returncode, runner, test_python, text,
    wait_within, HANG_LIMIT,
};
use serde_json::Value;

// Every engine must give what `python /abs/prog.py` gives.
runner_tests::per_mode!(subprocess, fork, warm; {
    run_prints_the_seed_transcript_byte_for_byte,
    validate_json_matches_python_and_exits_0,
    validate_report_gives_the_verdict_and_the_exit_code,
    a_timed_out_program_is_killed_and_reported_as_minus_9,
    a_timeout_kills_what_the_program_started,
    fifty_megabytes_of_output_are_captured_whole,
    output_past_the_cap_is_cut_flagged_and_drained,
    a_grandchild_holding_the_pipes_is_reported_and_killed,
    a_grandchild_in_a_new_session_holding_the_pipes_is_reported_and_killed,
    stdin_is_at_end_of_file_at_once,
    arguments_after_the_double_dash_reach_the_program,
    the_program_path_is_made_absolute_like_os_path_abspath,
    the_device_is_chosen_from_cuda_visible_devices,
    a_python_that_cannot_start_is_a_setup_error,
});

/// Runs `cmd` and collects its output; fails the test if it has not finished within [`HANG_LIMIT`].
/// A piped stdin is held open, unwritten, until the command is done: that is what lets
/// reads_stdin.py tell an inherited stdin (blocks forever) from /dev/null (end of file at once).
fn finish(cmd: &mut Command) -> Output {
    finish_within(cmd, None, HANG_LIMIT)
}

/// Runs `check` on every row of a table, then fails naming the rows that failed (each failure's own
/// message is printed as it happens), so that one bad row does not hide the others.
fn check_rows<T: std::fmt::Debug + Copy>(rows: impl IntoIterator<Item = T>, check: impl Fn(T)) {
    let failed: Vec<String> = rows
        .into_iter()
        .filter(|&row| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(row))).is_err())
        .map(|row| format!("{row:?}"))
        .collect();
    assert!(failed.is_empty(), "{} failing rows:\n{}", failed.len(), failed.join("\n"));
}

/// Runs `check`, then asserts that process `pid`, which the runner should have killed before it
/// returned, is dead whatever `check` found: assert_all_die kills a survivor, so a failing test leaves
/// no `sleep 600` behind.
fn check_then_assert_dies(pid: u32, what: &str, check: impl FnOnce()) {
    let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check));
    assert_all_die(&[pid], what);
    if let Err(panic) = checked {
        std::panic::resume_unwind(panic);
    }
}

/// Reads the pid a fixture wrote to `path`.
fn read_pid(path: &Path) -> u32 {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    s.trim().parse().unwrap_or_else(|e| panic!("pid file {} holds {s:?}: {e}", path.display()))
}

/// What a program did, as ProgramRunner reports it: its streams as text and its returncode.
#[derive(Debug)]
struct Expected {
    stdout: String,
    stderr: String,
    returncode: i32,
}

impl Expected {
    /// What `python /abs/prog.py args...` did.
    fn reference(program: &Path, args: &[&str]) -> Self {
        let out = python_reference(program, args);
        Expected { stdout: text(&out.stdout), stderr: text(&out.stderr), returncode: returncode(&out) }
    }

    /// A run that printed `stdout` only and ended with `returncode`.
    fn stdout(stdout: &str, returncode: i32) -> Self {
        Expected { stdout: stdout.into(), stderr: String::new(), returncode }
    }
}

/// The `runner run` output expected for `program`: run_program's transcript, each captured string
/// printed with Python's `print` (so followed by one newline), and the source on failure.
fn transcript(program: &Path, device: Option<&str>, e: &Expected) -> String {
    let mut t = format!("Running: {}\n", program.display());
    if let Some(dev) = device {
        let _ = writeln!(t, "Selected CUDA_VISIBLE_DEVICES={dev}");
    }
    if e.returncode == 0 {
        let _ = write!(t, "=== Program Output ===\n{}\n{}\n", e.stdout, e.stderr);
    } else {
        // run_program reads the source with open(): text mode, so universal newlines as well.
        let source = text(&std::fs::read(program).expect("read the program source"));
        let _ = write!(
            t,
            "=== Program Output (Failure) ===\n{}\n{}\n{}\n=== Program Source ===\n{}\n{}\nProgram exited with code: {}\n",
            e.stdout,
            e.stderr,
            "=".repeat(31),
            source,
            "=".repeat(22),
            e.returncode
        );
    }
    t
}

/// The flags of a result beyond ProgramRunner's four keys; all false unless a test says otherwise.
#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    timed_out: bool,
    truncated_stdout: bool,
    truncated_stderr: bool,
    leaked_pipes: bool,
}

const TIMED_OUT: Flags =
    Flags { timed_out: true, truncated_stdout: false, truncated_stderr: false, leaked_pipes: false };
const LEAKED: Flags =
    Flags { timed_out: false, truncated_stdout: false, truncated_stderr: false, leaked_pipes: true };

/// Checks a `validate --json` result object: the documented keys, ProgramRunner's four with the
/// expected values, then how and where the program ran.
fn assert_result(v: &Value, mode: &str, program: &Path, device: Option<&str>, e: &Expected, flags: Flags) {
    let ctx = format!("{} in {mode} mode", program.display());
    let obj = v.as_object().unwrap_or_else(|| panic!("{ctx}: not a JSON object: {v}"));
    let mut keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    // Warm mode reruns a failure in a fresh executor and says whether it was confirmed; the fixtures
    // are deterministic, so a failure that is reported as such must have been.
    if mode == "warm" && e.returncode != 0 && keys.remove("confirmed") {
        assert_eq!(v["confirmed"], true, "{ctx}: a deterministic failure is confirmed");
    }
    // The embedded modes report how long the program itself ran, when the executor lived to say so.
    runner_tests::take_program_time(&mut keys, v, mode, &ctx);
    let want_keys: BTreeSet<&str> = runner_tests::RESULT_KEYS.iter().copied().collect();
    assert_eq!(keys, want_keys, "{ctx}: result keys");
    let truncated_keys: BTreeSet<&str> =
        v["truncated"].as_object().expect("truncated is an object").keys().map(String::as_str).collect();
    assert_eq!(truncated_keys, ["stderr", "stdout"].into(), "{ctx}: truncated keys");

    assert_eq!(v["stdout"], e.stdout.as_str(), "{ctx}: stdout");
    assert_eq!(v["stderr"], e.stderr.as_str(), "{ctx}: stderr");
    assert_eq!(v["returncode"], e.returncode, "{ctx}: returncode");
    assert_eq!(v["success"], e.returncode == 0, "{ctx}: success");
    assert_eq!(v["program"], program.to_str().unwrap(), "{ctx}: program");
    assert_eq!(v["mode"], mode, "{ctx}: mode");
    assert_eq!(v["device"], device.map_or(Value::Null, Value::from), "{ctx}: device");
    assert!(v["duration"].as_f64().is_some_and(|d| d >= 0.0), "{ctx}: duration {}", v["duration"]);
    assert_eq!(v["timed_out"], flags.timed_out, "{ctx}: timed_out");
    assert_eq!(v["truncated"]["stdout"], flags.truncated_stdout, "{ctx}: truncated.stdout");
    assert_eq!(v["truncated"]["stderr"], flags.truncated_stderr, "{ctx}: truncated.stderr");
    assert_eq!(v["leaked_pipes"], flags.leaked_pipes, "{ctx}: leaked_pipes");
}

/// `runner validate --json --mode M [extra] program -- args`.
fn validate_json_command(mode: &str, program: &Path, args: &[&str], extra: &[&str]) -> Command {
    let mut cmd = runner();
    cmd.args(["validate", "--json", "--mode", mode]).args(extra).arg(program).arg("--").args(args);
    cmd
}

/// The result object of a `validate --json` run, after checking what holds for every such run where
/// no device is chosen: exit 0 whatever the program did, and nothing on stderr.
fn validated(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "validate --json: exit code; stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "validate --json: stderr");
    json(out)
}

/// Runs `runner validate --json --mode M [extra] program -- args` and returns the checked result.
fn validate_json(mode: &str, program: &Path, args: &[&str], extra: &[&str]) -> Value {
    validated(&finish(&mut validate_json_command(mode, program, args, extra)))
}

/// Runs `runner run --mode M [extra] program -- args` and returns its output.
fn run(mode: &str, program: &Path, args: &[&str], extra: &[&str]) -> Output {
    finish(runner().args(["run", "--mode", mode]).args(extra).arg(program).arg("--").args(args))
}

/// Checks a `runner run` output: the exact transcript, nothing on stderr, exit 0 or 1.
fn assert_run(out: &Output, mode: &str, program: &Path, device: Option<&str>, e: &Expected) {
    let ctx = format!("run --mode {mode} {}", program.display());
    assert_eq!(text(&out.stdout), transcript(program, device, e), "{ctx}: transcript");
    assert_eq!(text(&out.stderr), "", "{ctx}: stderr");
    let code = if e.returncode == 0 { 0 } else { 1 };
    assert_eq!(out.status.code(), Some(code), "{ctx}: exit code");
}

/// The programs whose whole behaviour `python` itself shows: (fixture, arguments, the returncode
/// python gives, which pins the fixture itself).
const OUTCOMES: &[(&str, &[&str], i32)] = &[
    ("pass.py", &[], 0),
    ("exception.py", &[], 1),
    ("exit_code.py", &[], 3),
    ("sigsegv.py", &[], -11),
    ("segfault.py", &[], -11),
    ("abort.py", &[], -6),
    ("signal_dispositions.py", &[], 0),
    ("unicode_and_invalid_utf8.py", &[], 0),
    ("reads_stdin.py", &[], 0),
    ("args.py", &["one", "two words"], 0),
];

fn run_prints_the_seed_transcript_byte_for_byte(mode: &str) {
    check_rows(OUTCOMES.iter().copied(), |(name, args, rc)| {
        let program = fixture(name);
        let want = Expected::reference(&program, args);
        assert_eq!(want.returncode, rc, "python's own returncode for {name}");
        assert_run(&run(mode, &program, args, &[]), mode, &program, None, &want);
    });
}

fn validate_json_matches_python_and_exits_0(mode: &str) {
    check_rows(OUTCOMES.iter().copied(), |(name, args, _)| {
        let program = fixture(name);
        let want = Expected::reference(&program, args);
        let v = validate_json(mode, &program, args, &[]);
        assert_result(&v, mode, &program, None, &want, Flags::default());
    });
}

fn validate_report_gives_the_verdict_and_the_exit_code(mode: &str) {
    // (fixture, verdict, how it ended, runner's exit code)
    let cases = [
        ("pass.py", "PASS", "exit 0", 0),
        ("exception.py", "FAIL", "exit 1", 1),
        ("exit_code.py", "FAIL", "exit 3", 1),
        ("sigsegv.py", "FAIL", "SIGSEGV", 1),
        ("segfault.py", "FAIL", "SIGSEGV", 1),
        ("abort.py", "FAIL", "SIGABRT", 1),
    ];
    check_rows(cases, |(name, verdict, outcome, code)| {
        let program = fixture(name);
        let want = Expected::reference(&program, &[]);
        let out = finish(runner().args(["validate", "--mode", mode]).arg(&program));
        let report = text(&out.stdout);
        let ctx = format!("validate --mode {mode} {name}");
        assert_eq!(out.status.code(), Some(code), "{ctx}: exit code; report:\n{report}");
        let first = report.lines().next().unwrap_or_default();
        let head = format!("{verdict} {} ({outcome}, ", program.display());
        let tail = format!("s, {mode})");
        assert!(
            first.starts_with(&head) && first.ends_with(&tail),
            "{ctx}: verdict line {first:?}, want {head:?}...{tail:?}"
        );
        for (stream, captured) in [("stdout", &want.stdout), ("stderr", &want.stderr)] {
            if !captured.is_empty() {
                let section = format!("--- {stream} ---\n{captured}");
                assert!(report.contains(&section), "{ctx}: the report lacks {section:?}:\n{report}");
            }
        }
    });
}

fn a_timed_out_program_is_killed_and_reported_as_minus_9(mode: &str) {
    let program = fixture("sleep_forever.py");
    // What was printed before the kill is kept; SIGKILL gives -9, as subprocess would report it.
    let want = Expected::stdout("started\n", -9);
    let v = validate_json(mode, &program, &[], &["--timeout", "1"]);
    assert_result(&v, mode, &program, None, &want, TIMED_OUT);
    assert_run(&run(mode, &program, &[], &["--timeout", "1"]), mode, &program, None, &want);

    let out = finish(runner().args(["validate", "--timeout", "1", "--mode", mode]).arg(&program));
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "validate --mode {mode}: exit code of a timed-out program");
    let head = format!("FAIL {} (timed out, ", program.display());
    assert!(report.starts_with(&head), "validate --mode {mode}: report {report:?}, want {head:?}...");
}

fn a_timeout_kills_what_the_program_started(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    let program = fixture("child_then_sleep_forever.py");
    let args = [pid_file.to_str().unwrap()];
    let out = finish(&mut validate_json_command(mode, &program, &args, &["--timeout", "1"]));
    let want = Expected::stdout("started\n", -9);
    let what = format!("the child of a program timed out in {mode} mode");
    check_then_assert_dies(read_pid(&pid_file), &what, || {
        assert_result(&validated(&out), mode, &program, None, &want, TIMED_OUT);
    });
}

fn fifty_megabytes_of_output_are_captured_whole(mode: &str) {
    let program = fixture("big_output.py");
    let want = Expected::reference(&program, &[]);
    assert_eq!(want.stdout.len(), 50_000_000, "big_output.py writes 50 MB");
    assert_result(&validate_json(mode, &program, &[], &[]), mode, &program, None, &want, Flags::default());
    assert_run(&run(mode, &program, &[], &[]), mode, &program, None, &want);
}

fn output_past_the_cap_is_cut_flagged_and_drained(mode: &str) {
    // (bytes flood.py writes to stdout, --max-output): a stream keeps its first `cap` bytes and is
    // flagged when more came; the program still runs to its end ("done" on stderr) with exit 0.
    let cases: &[(u64, u64)] =
        &[(20_000_000, 1000), (1000, 1000), (1001, 1000), (100_000, 65_536), (0, 0), (1, 0), (0, 3)];
    let program = fixture("flood.py");
    check_rows(cases.iter().copied(), |(bytes, cap)| {
        let arg = bytes.to_string();
        let reference = python_reference(&program, &[&arg]);
        assert_eq!(reference.stdout.len() as u64, bytes, "flood.py {bytes} writes {bytes} bytes");
        assert_eq!(reference.stderr, b"done\n", "flood.py {bytes} stderr");
        // The cap holds for each stream, so a tiny one cuts "done" too.
        let keep = |s: &[u8]| text(&s[..s.len().min(cap as usize)]);
        let want =
            Expected { stdout: keep(&reference.stdout), stderr: keep(&reference.stderr), returncode: 0 };
        let flags = Flags {
            truncated_stdout: bytes > cap,
            truncated_stderr: reference.stderr.len() as u64 > cap,
            ..Flags::default()
        };
        let v = validate_json(mode, &program, &[&arg], &["--max-output", &cap.to_string()]);
        assert_result(&v, mode, &program, None, &want, flags);
    });
}

/// Runs `fixture_name` (which starts a `sleep 600` that keeps the output pipes, writes its pid to the
/// file named by its argument, prints `says` and exits): the runner must return although the pipes
/// stay open, report the leak, and leave the grandchild dead.
fn assert_leaked_grandchild_is_killed(mode: &str, fixture_name: &str, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let program = fixture(fixture_name);
    // finish() bounds the wait: the grandchild still holds the pipes when the program exits.
    let out = finish(&mut validate_json_command(mode, &program, &[pid_file.to_str().unwrap()], &[]));
    let what = format!("the grandchild of {fixture_name} in {mode} mode");
    check_then_assert_dies(read_pid(&pid_file), &what, || {
        assert_result(&validated(&out), mode, &program, None, &Expected::stdout(says, 0), LEAKED);
    });
}

fn a_grandchild_holding_the_pipes_is_reported_and_killed(mode: &str) {
    assert_leaked_grandchild_is_killed(mode, "grandchild_holds_pipes.py", "started a grandchild\n");
}

fn a_grandchild_in_a_new_session_holding_the_pipes_is_reported_and_killed(mode: &str) {
    // leaked_pipes promises that the processes holding the output "were killed"; a grandchild that
    // called setsid is outside the program's process group, and must be killed all the same.
    let says = "started a grandchild in a new session\n";
    assert_leaked_grandchild_is_killed(mode, "grandchild_in_new_session.py", says);
}

fn stdin_is_at_end_of_file_at_once(mode: &str) {
    // The runner's own stdin is a pipe that stays open and empty: a program reading an inherited stdin
    // would block until finish() gives up.
    let program = fixture("reads_stdin.py");
    let want = Expected::stdout("stdin: ''\n", 0);
    let out = finish(runner().args(["run", "--mode", mode]).arg(&program).stdin(Stdio::piped()));
    assert_run(&out, mode, &program, None, &want);
    let out =
        finish(runner().args(["validate", "--json", "--mode", mode]).arg(&program).stdin(Stdio::piped()));
    assert_result(&json(&out), mode, &program, None, &want, Flags::default());
}

fn arguments_after_the_double_dash_reach_the_program(mode: &str) {
    // Runner flags among them are the program's, and a second `--` is an argument like any other.
    let cases: &[&[&str]] = &[
        &[],
        &["a", "b c"],
        &[""],
        &["--json", "-x", "--timeout", "0", "--mode", "nope"],
        &["--", "after"],
        &["ünïcödé ✓", "new\nline", "tab\tand 'quotes\""],
    ];
    let program = fixture("args.py");
    check_rows(cases.iter().copied(), |args| {
        let want = Expected::reference(&program, args);
        assert_run(&run(mode, &program, args, &[]), mode, &program, None, &want);
        assert_result(
            &validate_json(mode, &program, args, &[]),
            mode,
            &program,
            None,
            &want,
            Flags::default(),
        );
    });
}

fn the_program_path_is_made_absolute_like_os_path_abspath(mode: &str) {
    // os.path.abspath joins with the cwd and collapses `.` and `..` without resolving symbolic links.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("link.py");
    std::os::unix::fs::symlink(fixture("pass.py"), &link).unwrap();
    let pass = fixture("pass.py");
    let fixtures = pass.parent().unwrap();
    let cases: &[(&Path, &str, &Path)] = &[
        (fixtures, "pass.py", &pass),
        (fixtures, "./../fixtures/./pass.py", &pass),
        (dir.path(), "link.py", &link),
    ];
    let want = Expected::reference(&pass, &[]);
    check_rows(cases.iter().copied(), |(cwd, arg, program)| {
        let out = finish(runner().current_dir(cwd).args(["run", "--mode", mode, arg]));
        assert_run(&out, mode, program, None, &want);
        let out = finish(runner().current_dir(cwd).args(["validate", "--json", "--mode", mode, arg]));
        assert_result(&json(&out), mode, program, None, &want, Flags::default());
    });
}

/// The subcommands every usage error is tried with.
const COMMANDS: &[&[&str]] = &[&["run"], &["validate"], &["validate", "--json"]];

/// What is wrong with `out` as a usage error, if anything: it must exit 2, print nothing on stdout and
/// exactly one line on stderr that says what is wrong.
fn usage_error_problem(out: &Output, mentions: &str) -> Option<String> {
    let err = text(&out.stderr);
    let problem = if out.status.code() != Some(2) {
        format!("exit status {:?}, want 2", out.status)
    } else if !out.stdout.is_empty() {
        format!("stdout {:?}, want none", text(&out.stdout))
    } else if !(err.ends_with('\n') && err.matches('\n').count() == 1) {
        "not exactly one line on stderr".to_string()
    } else if !err.starts_with("runner: error: ") {
        "the line does not start with `runner: error: `".to_string()
    } else if !err.contains(mentions) {
        format!("the line does not mention {mentions:?}")
    } else {
        return None;
    };
    Some(format!("{problem}; stderr: {err:?}"))
}

/// Fails the test with every problem found, one per line, so that a table shows all its failing rows.
fn assert_no_problems(problems: &[String]) {
    assert!(problems.is_empty(), "{} failing cases:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.py");
    let pass = fixture("pass.py");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let flag = |flag: &str, value: &str| vec![s(&pass), flag.to_string(), value.to_string()];

    // (arguments after the subcommand, environment to set (None: remove), what the line must mention)
    type Case = (Vec<String>, Vec<(&'static str, Option<String>)>, String);
    let cases: Vec<Case> = vec![
        (vec![s(&missing)], vec![], s(&missing)),
        (vec![s(dir.path())], vec![], s(dir.path())),
        (vec![], vec![], "PROGRAM".into()),
        (vec![s(&pass), "--bogus".into()], vec![], "--bogus".into()),
        (flag("--mode", "nope"), vec![], "nope".into()),
        (flag("--python", "/nowhere/python3"), vec![], "/nowhere/python3".into()),
        (flag("--python", "no-such-python-anywhere"), vec![], "no-such-python-anywhere".into()),
        // Exists but is not executable.
        (flag("--python", &s(&pass)), vec![], s(&pass)),
        (vec![s(&pass)], vec![("RUNNER_PYTHON", Some("/nowhere/python3".into()))], "/nowhere/python3".into()),
        (
            vec![s(&pass)],
            vec![("RUNNER_PYTHON", None), ("VIRTUAL_ENV", Some("/nowhere/venv".into()))],
            "/nowhere/venv".into(),
        ),
        (flag("--timeout", "0"), vec![], "--timeout".into()),
        (vec![s(&pass), "--timeout=-1".into()], vec![], "--timeout".into()),
        // Without `=`, clap takes `-1` for a flag: still one line naming it.
        (flag("--timeout", "-1"), vec![], "-1".into()),
        (flag("--timeout", "nan"), vec![], "--timeout".into()),
        (flag("--timeout", "inf"), vec![], "--timeout".into()),
        (flag("--timeout", "soon"), vec![], "soon".into()),
        (flag("--max-output", "lots"), vec![], "lots".into()),
        (flag("--seed", "-3"), vec![], "-3".into()),
        (flag("--preload", "not a module"), vec![], "--preload".into()),
        (flag("--max-programs-per-executor", "0"), vec![], "--max-programs-per-executor".into()),
    ];
    let mut problems = Vec::new();
    for command in COMMANDS {
        for (args, env, mentions) in &cases {
            let mut cmd = runner();
            cmd.args(*command).args(args);
            for (key, value) in env {
                match value {
                    Some(v) => cmd.env(key, v),
                    None => cmd.env_remove(key),
                };
            }
            let ctx = format!("runner {} {} (env {env:?})", command.join(" "), args.join(" "));
            if let Some(problem) = usage_error_problem(&finish(&mut cmd), mentions) {
                problems.push(format!("{ctx}: {problem}"));
            }
        }
    }
    assert_no_problems(&problems);
}

fn a_python_that_cannot_start_is_a_setup_error(mode: &str) {
    // An executable file the kernel cannot start (its interpreter does not exist) passes every check
    // made before running, so the error comes when the program is started: `run` has printed its
    // Running line by then, as run_program has, so only the exit code and stderr are pinned.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let python = dir.path().join("python");
    std::fs::write(&python, "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut problems = Vec::new();
    for command in COMMANDS {
        let mut cmd = runner();
        cmd.args(*command).args(["--mode", mode, "--python"]).arg(&python).arg(fixture("pass.py"));
        let out = finish(&mut cmd);
        let quiet = Output { stdout: Vec::new(), ..out };
        if let Some(problem) = usage_error_problem(&quiet, python.to_str().unwrap()) {
            problems.push(format!("runner {} --python <cannot start>: {problem}", command.join(" ")));
        }
    }
    assert_no_problems(&problems);
}

/// Drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from `cmd`'s bounding set before it runs: root keeps
/// its uid but obeys file modes like anyone else, so a mode-000 file becomes unreadable to it.
fn without_file_read_override(cmd: &mut Command) -> &mut Command {
    use std::os::raw::{c_int, c_ulong};
    use std::os::unix::process::CommandExt;
    extern "C" {
        fn prctl(option: c_int, ...) -> c_int;
    }
    const PR_CAPBSET_DROP: c_int = 24;
    const CAP_DAC_OVERRIDE: c_ulong = 1;
    const CAP_DAC_READ_SEARCH: c_ulong = 2;
    // SAFETY: prctl is async-signal-safe and the closure touches nothing but constants; exec then
    // computes the new program's capabilities from the reduced bounding set.
    unsafe {
        cmd.pre_exec(|| {
            for cap in [CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH] {
                if prctl(PR_CAPBSET_DROP, cap) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        })
    }
}

#[test]
fn an_unreadable_program_is_a_usage_error() {
    // The tests run as root, and root reads a chmod-000 file anyway. Without the two capabilities that
    // let it (dropped for the runner only) root obeys the mode like anyone; where they cannot be
    // dropped, or reading still works, the case cannot be set up and is skipped with the reason.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("unreadable.py");
    std::fs::write(&program, "print('read anyway')\n").unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o000)).unwrap();

    let privileged = std::fs::read(&program).is_ok();
    let restrict = |cmd: &mut Command| {
        if privileged {
            without_file_read_override(cmd);
        }
    };
    let mut probe = Command::new(test_python());
    probe.args(["-c", "import sys; open(sys.argv[1]).read()"]).arg(&program).stdin(Stdio::null());
    restrict(&mut probe);
    match probe.output() {
        Err(e) => {
            eprintln!("skipped: cannot drop the capabilities that let root read a mode-000 file: {e}");
            return;
        }
        Ok(out) if out.status.success() => {
            eprintln!("skipped: a mode-000 file stays readable here even without CAP_DAC_OVERRIDE");
            return;
        }
        Ok(_) => {}
    }
    let mut problems = Vec::new();
    for command in COMMANDS {
        let mut cmd = runner();
        cmd.args(*command).arg(&program);
        restrict(&mut cmd);
        let ctx = format!("runner {} <mode-000 file>", command.join(" "));
        if let Some(problem) = usage_error_problem(&finish(&mut cmd), program.to_str().unwrap()) {
            problems.push(format!("{ctx}: {problem}"));
        }
    }
    assert_no_problems(&problems);
}

/// The device a `run` transcript announces, if any.
fn selected(transcript: &str) -> Option<String> {
    transcript.lines().nth(1)?.strip_prefix("Selected CUDA_VISIBLE_DEVICES=").map(String::from)
}

/// Runs prints_cuda_visible_devices.py with `run` (`validate --json` when `json_result`) under `mode`,
/// with CUDA_VISIBLE_DEVICES set to `visible` (or removed); checks everything but which device was
/// chosen, and returns that device.
fn device_run(json_result: bool, mode: &str, visible: Option<&str>, seed: Option<u64>) -> Option<String> {
    let program = fixture("prints_cuda_visible_devices.py");
    let mut cmd = runner();
    cmd.args(if json_result { &["validate", "--json"][..] } else { &["run"] }).args(["--mode", mode]);
    if let Some(seed) = seed {
        cmd.args(["--seed", &seed.to_string()]);
    }
    if let Some(v) = visible {
        cmd.env("CUDA_VISIBLE_DEVICES", v);
    }
    let out = finish(cmd.arg(&program));
    // ProgramRunner gives the program its own environment unless it chose a device.
    let seen = |device: Option<&str>| {
        Expected::stdout(
            &match device.or(visible) {
                Some(value) => format!("'{value}'\n"),
                None => "None\n".to_string(),
            },
            0,
        )
    };
    if json_result {
        let v = json(&out);
        let device = v["device"].as_str().map(String::from);
        assert_result(&v, mode, &program, device.as_deref(), &seen(device.as_deref()), Flags::default());
        // stdout is the JSON object alone, so the announcement goes to stderr.
        let announced = device.as_ref().map(|d| format!("Selected CUDA_VISIBLE_DEVICES={d}\n"));
        assert_eq!(text(&out.stderr), announced.unwrap_or_default(), "validate --json --mode {mode}: stderr");
        device
    } else {
        let device = selected(&text(&out.stdout));
        assert_run(&out, mode, &program, device.as_deref(), &seen(device.as_deref()));
        device
    }
}

/// ProgramRunner's candidates when CUDA_VISIBLE_DEVICES is unset or empty: every GPU for run_program,
/// all but GPU 0 for run_and_validate when there are several. None on a machine without GPUs.
fn gpu_candidates(validate: bool) -> BTreeSet<String> {
    let n = runner_core::device::count_gpus();
    let first = if validate && n > 1 { 1 } else { 0 };
    (first..n).map(|i| i.to_string()).collect()
}

fn the_device_is_chosen_from_cuda_visible_devices(mode: &str) {
    // (CUDA_VISIBLE_DEVICES, the devices a program may get, None: the GPUs; empty: no device is
    // chosen and the environment is left as it is). An empty value counts as unset, as in Python.
    let cases: &[(Option<&str>, Option<&[&str]>)] = &[
        (Some("3, 5"), Some(&["3", "5"])),
        (Some("7"), Some(&["7"])),
        (Some("GPU-8f2e,MIG-1/2/0"), Some(&["GPU-8f2e", "MIG-1/2/0"])),
        (Some(" , "), Some(&[])),
        (Some(""), None),
        (None, None),
    ];
    // Each case for `run` and for `validate --json`.
    let rows =
        cases.iter().flat_map(|&(visible, allowed)| [false, true].map(|json| (visible, allowed, json)));
    check_rows(rows, |(visible, allowed, json_result)| {
        let allowed: BTreeSet<String> = match allowed {
            Some(list) => list.iter().map(|d| d.to_string()).collect(),
            None => gpu_candidates(json_result),
        };
        let ctx = format!("{} with {visible:?}", if json_result { "validate" } else { "run" });
        match device_run(json_result, mode, visible, None) {
            None => assert!(allowed.is_empty(), "{ctx}: no device, want one of {allowed:?}"),
            Some(d) => assert!(allowed.contains(&d), "{ctx}: {d}, want one of {allowed:?}"),
        }
    });
}

#[test]
fn a_seed_makes_the_device_choice_reproducible() {
    for json_result in [false, true] {
        let mut chosen = BTreeSet::new();
        for seed in 0..10 {
            let first = device_run(json_result, "subprocess", Some("3, 5"), Some(seed));
            let again = device_run(json_result, "subprocess", Some("3, 5"), Some(seed));
            assert_eq!(first, again, "--seed {seed} chose differently twice (validate: {json_result})");
            chosen.insert(first.expect("a device is chosen"));
        }
        // Ten seeds that all chose the same device would mean the seed does not drive the choice.
        assert_eq!(chosen, ["3".to_string(), "5".to_string()].into(), "devices over seeds 0..10");
    }
}

#[test]
fn a_reader_that_goes_away_ends_runner_quietly_with_0() {
    // `runner run big.py | head -1`: the closed pipe is the reader's choice, not an error of the run
    // (as for other Unix tools); before, runner said "Broken pipe" and exited 2.
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    for command in [&["run", "--mode", "subprocess"][..], &["validate", "--json", "--mode", "subprocess"]] {
        let mut child = runner()
            .args(command)
            .arg(fixture("big_output.py"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(!first.is_empty(), "{command:?}");
        // The reader (dropped above) is gone; the rest of the 50 MB meets a closed pipe.
        let out = wait_within(child, HANG_LIMIT, &format!("{command:?} after its reader went away"));
        assert_eq!(out.status.code(), Some(0), "{command:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{command:?}");
    }
}
