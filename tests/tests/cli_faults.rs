//! End-to-end tests of the front end under faults and bad input: results and JUnit reports on a disk
//! that fills up, numeric flags out of range, program file names that are not UTF-8, an interpreter
//! that is not Python, a preload that never finishes importing, and JUnit reports of programs with
//! large outputs. Each runs the real `runner` binary and checks what a user relies on: the exit code
//! (2 for bad input, 3 for results that could not be written), one line on stderr that names what
//! is wrong, result files whose every line is a whole record, nothing left running.
//!
//! The full-disk tests mount a small tmpfs, which needs root: CI runs the tests as root, so there a
//! mount that fails fails the test; elsewhere they are skipped with the reason printed. Nothing sleeps
//! to wait for something, and nothing asserts on timings.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use runner_tests::{
    assert_all_die, describe, finish_within, fixture, python_reference, runner, test_python, text, HANG_LIMIT,
};
use serde_json::Value;

runner_tests::per_mode!(warm, fork, subprocess; {
    a_program_whose_name_is_not_utf8_runs_once_and_resume_skips_it,
    a_runner_upgraded_in_the_middle_of_a_batch_goes_on_starting_its_own_workers,
});

/// The most bytes of one output a JUnit case carries (README, `--junit`).
const JUNIT_OUTPUT_CAP: usize = 64 * 1024;

/// Runs `cmd` and collects its output; fails the test after [`HANG_LIMIT`].
fn finish(cmd: &mut Command) -> Output {
    finish_within(cmd, None, HANG_LIMIT)
}

/// What is wrong with `out` as a usage or set-up error, if anything: exit 2, nothing on stdout,
/// exactly one line on stderr, starting `runner: error: ` and mentioning each of `mentions`.
fn setup_error_problem(out: &Output, mentions: &[&str]) -> Option<String> {
    let err = text(&out.stderr);
    let problem = if out.status.code() != Some(2) {
        format!("exit status {:?}, want 2", out.status)
    } else if !out.stdout.is_empty() {
        format!("stdout {:?}, want none", text(&out.stdout))
    } else if !(err.ends_with('\n') && err.matches('\n').count() == 1) {
        "not exactly one line on stderr".to_string()
    } else if !err.starts_with("runner: error: ") {
        "the line does not start with `runner: error: `".to_string()
    } else if let Some(m) = mentions.iter().find(|m| !err.contains(*m)) {
        format!("the line does not mention {m:?}")
    } else {
        return None;
    };
    Some(format!("{problem}; stderr: {err:?}"))
}

/// The records of a JSONL file, each line checked to be whole and one JSON object.
fn whole_records(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(bytes.is_empty() || bytes.ends_with(b"\n"), "{}: the last line is cut", path.display());
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice(l).unwrap_or_else(|e| {
                panic!(
                    "{}: a line is not a JSON object ({e}): {}",
                    path.display(),
                    String::from_utf8_lossy(l)
                )
            })
        })
        .collect()
}

/// A tmpfs mounted on a fresh directory for one test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`64k`). `None`, with the reason printed, where it cannot be mounted
    /// outside CI (not root); in CI (`CI` set, run as root) that fails the test instead.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("a directory to mount on");
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let why = if root {
            let out = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir.path())
                .output();
            match out {
                Ok(o) if o.status.success() => return Some(Tmpfs { dir }),
                Ok(o) => format!("mount failed: {}", text(&o.stderr).trim()),
                Err(e) => format!("cannot run mount: {e}"),
            }
        } else {
            "not running as root".to_string()
        };
        assert!(std::env::var_os("CI").is_none(), "cannot mount a tmpfs ({why}): CI runs the tests as root");
        eprintln!("skipped: cannot mount a tmpfs to fill ({why}); run the tests as root to test a full disk");
        None
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Gives the filesystem a new size (its files are kept).
    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "remounting {} with size={size} failed", self.path().display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a process of a failed test may still hold a file there.
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// `count` programs that each print `bytes` bytes, so that their records fill a small disk.
fn chatty_corpus(dir: &Path, count: usize, bytes: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..count)
        .map(|i| {
            let p = dir.join(format!("chatty_{i:02}.py"));
            std::fs::write(&p, format!("print({i}, 'x' * {bytes})\n")).unwrap();
            p
        })
        .collect()
}

/// The program of each record (exact bytes), with duplicates kept.
fn programs_of(records: &[Value]) -> Vec<PathBuf> {
    records
        .iter()
        .map(|r| {
            let v = serde_json::to_string(r).unwrap();
            runner_core_path(&v)
        })
        .collect()
}

/// A record's exact program path: `program_bytes` when it is there, else `program`.
fn runner_core_path(record_json: &str) -> PathBuf {
    #[derive(serde::Deserialize)]
    struct R {
        #[serde(flatten, with = "runner_core::program_path")]
        program: PathBuf,
    }
    serde_json::from_str::<R>(record_json).expect("a record names its program").program
}

#[test]
fn a_full_disk_cuts_the_results_back_to_whole_records_ends_with_3_and_resume_completes_them() {
    let Some(disk) = Tmpfs::mount("64k") else { return };
    let work = tempfile::tempdir().unwrap();
    // 40 records of about 3.3 KB: twice what the disk holds.
    let programs = chatty_corpus(&work.path().join("corpus"), 40, 3200);
    let jsonl = disk.path().join("results.jsonl");
    let out = finish(
        runner()
            .args(["batch", "-q", "--workers", "2", "--output"])
            .arg(&jsonl)
            .arg(work.path().join("corpus")),
    );
    let ctx = "batch --output <full tmpfs>";
    assert_eq!(out.status.code(), Some(3), "{ctx}: results are incomplete; {}", describe(&out));
    let stderr = text(&out.stderr);
    let named = format!("runner: error: cannot write the results file {}: ", jsonl.display());
    assert!(
        stderr.lines().any(|l| l.starts_with(&named) && l.contains("(os error 28)")),
        "{ctx}: stderr names the file and the full disk; {}",
        describe(&out)
    );
    assert!(!stderr.contains("panicked"), "{ctx}: {stderr}");
    let before = whole_records(&jsonl);
    assert!(
        !before.is_empty() && before.len() < programs.len(),
        "{ctx}: some records fit, not all: {}",
        before.len()
    );

    // Room again: --resume runs exactly the programs without a record.
    disk.resize("1m");
    let out = finish(
        runner().args(["batch", "-q", "--resume", "--output"]).arg(&jsonl).arg(work.path().join("corpus")),
    );
    assert_eq!(out.status.code(), Some(0), "batch --resume after the disk was freed; {}", describe(&out));
    let after = whole_records(&jsonl);
    let mut recorded = programs_of(&after);
    recorded.sort();
    assert_eq!(recorded, programs, "exactly one record per program after --resume");
}

#[test]
fn a_junit_report_on_a_full_disk_is_an_error_naming_it_and_no_cut_file_is_left() {
    let Some(disk) = Tmpfs::mount("64k") else { return };
    let work = tempfile::tempdir().unwrap();
    let programs = chatty_corpus(&work.path().join("corpus"), 40, 3200);
    let junit = disk.path().join("junit.xml");

    // The results go elsewhere: the report, written at the end, does not fit.
    let jsonl = work.path().join("results.jsonl");
    let out = finish(
        runner()
            .args(["batch", "-q", "--output"])
            .arg(&jsonl)
            .arg("--junit")
            .arg(&junit)
            .arg(work.path().join("corpus")),
    );
    let ctx = "batch --output <disk with room> --junit <full tmpfs>";
    assert_eq!(out.status.code(), Some(3), "{ctx}; {}", describe(&out));
    let stderr = text(&out.stderr);
    let named = format!("runner: error: cannot write the JUnit report {}: ", junit.display());
    assert!(
        stderr.lines().any(|l| l.starts_with(&named)),
        "{ctx}: stderr names the report; {}",
        describe(&out)
    );
    for bad in ["panicked", "error serializing"] {
        assert!(!stderr.contains(bad), "{ctx}: {bad}: {stderr}");
    }
    assert!(!junit.exists(), "{ctx}: the cut report was left for CI to read");
    assert_eq!(whole_records(&jsonl).len(), programs.len(), "{ctx}: the results are whole");

    // No --output: the records are spooled beside the report, on the same full disk.
    let out = finish(runner().args(["batch", "-q", "--junit"]).arg(&junit).arg(work.path().join("corpus")));
    let ctx = "batch --junit <full tmpfs> (no --output)";
    assert_eq!(out.status.code(), Some(3), "{ctx}; {}", describe(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.lines().all(|l| l.starts_with("runner: error: ")),
        "{ctx}: only runner's error lines; {}",
        describe(&out)
    );
    let dir = disk.path().display().to_string();
    assert!(
        stderr.contains(&format!("the JUnit report's spool (a temporary file in {dir})"))
            && stderr.contains(&format!("cannot write the JUnit report {}", junit.display())),
        "{ctx}: stderr names the spool's directory and the report; {}",
        describe(&out)
    );
    let left: Vec<_> = std::fs::read_dir(disk.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "{ctx}: files left on the disk: {left:?}");
}

/// Flags and the bad values each is tried with.
type FlagTable<'a> = &'a [(&'a str, &'a [&'a str])];

#[test]
fn numeric_flags_out_of_range_are_usage_errors_naming_the_flag() {
    let pass = fixture("pass.py");
    // (flag, bad values), for every subcommand that has the flag. Negative values use `=`, or clap
    // would take them for a flag of their own.
    let shared: FlagTable = &[
        ("--timeout", &["0", "=-1", "nan", "inf", "1e300", "1e19", "soon"]),
        ("--startup-timeout", &["0", "=-5", "nan", "inf", "1e19", "later"]),
        ("--max-output", &["=-1", "1e3", "99999999999999999999", "lots"]),
        ("--seed", &["=-3", "1.5", "99999999999999999999"]),
        ("--max-programs-per-executor", &["0", "=-1", "4294967296", "many"]),
    ];
    let batch: FlagTable = &[
        ("--workers", &["0", "=-1", "1025", "99999999999999999999", "two"]),
        ("--interrupt-grace", &["=-1", "nan", "inf", "1e19", "1e300", "soon"]),
    ];
    let bench: FlagTable = &[("--workers", &["0", "1025", "two"]), ("--repeat", &["0", "=-1", "x"])];
    let commands: &[(&[&str], &[FlagTable])] = &[
        (&["run"], &[shared]),
        (&["validate", "--json"], &[shared]),
        (&["batch", "-q"], &[shared, batch]),
        (&["bench", "-q"], &[shared, bench]),
    ];
    let mut problems = Vec::new();
    for (command, tables) in commands {
        for (flag, values) in tables.iter().flat_map(|t| t.iter()) {
            for value in *values {
                let arg = match value.strip_prefix('=') {
                    Some(v) => vec![format!("{flag}={v}")],
                    None => vec![flag.to_string(), value.to_string()],
                };
                let mut cmd = runner();
                cmd.args(*command).args(&arg).arg(&pass);
                if let Some(problem) = setup_error_problem(&finish(&mut cmd), &[flag]) {
                    problems.push(format!("runner {} {}: {problem}", command.join(" "), arg.join(" ")));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} failing cases:\n{}", problems.len(), problems.join("\n"));
}

fn a_program_whose_name_is_not_utf8_runs_once_and_resume_skips_it(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    // Latin-1 bytes, as a file name written on a system with another locale would be.
    let program = corpus.join(OsStr::from_bytes(b"caf\xe9 \xff.py"));
    std::fs::write(
        &program,
        "import sys\nprint(ascii(__file__), ascii(sys.argv[0]))\nprint('to stderr', file=sys.stderr)\n",
    )
    .unwrap();
    let want = python_reference(&program, &[]);
    assert!(want.status.success(), "python itself runs it: {}", text(&want.stderr));
    let ctx = format!("--mode {mode}, a program named {}", program.display());
    let engine = mode;

    let out = finish(runner().args(["validate", "--json", "--mode", mode]).arg(&program));
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{ctx}: {e}; {}", describe(&out)));
    assert_eq!(
        (v["returncode"].as_i64(), v["stdout"].as_str(), v["stderr"].as_str()),
        (Some(0), Some(text(&want.stdout).as_str()), Some(text(&want.stderr).as_str())),
        "{ctx}: validate --json gives python's result"
    );
    assert_eq!(runner_core_path(&v.to_string()), program, "{ctx}: the result names the exact file");
    assert_eq!(v["mode"], engine, "{ctx}");

    let jsonl = dir.path().join("results.jsonl");
    let out = finish(runner().args(["batch", "-q", "--mode", mode, "--output"]).arg(&jsonl).arg(&corpus));
    assert_eq!(out.status.code(), Some(0), "{ctx}: batch; {}", describe(&out));
    let records = whole_records(&jsonl);
    assert_eq!(programs_of(&records), vec![program.clone()], "{ctx}: exactly one record, of this program");
    let r = &records[0];
    assert_eq!(r["program"], text(program.as_os_str().as_bytes()), "{ctx}: `program` is the path as text");
    assert_eq!(
        (r["status"].as_str(), r["stdout"].as_str()),
        (Some("passed"), Some(text(&want.stdout).as_str()))
    );
    assert_eq!(r["mode"], engine, "{ctx}");

    let before = std::fs::read(&jsonl).unwrap();
    let out = finish(
        runner().args(["batch", "-q", "--mode", mode, "--resume", "--output"]).arg(&jsonl).arg(&corpus),
    );
    assert_eq!(out.status.code(), Some(0), "{ctx}: batch --resume; {}", describe(&out));
    assert!(
        text(&out.stdout).contains("0 of 0 programs run"),
        "{ctx}: --resume runs nothing; {}",
        describe(&out)
    );
    assert_eq!(std::fs::read(&jsonl).unwrap(), before, "{ctx}: --resume recognised the record");
}

#[test]
fn an_executable_that_is_not_python_is_a_setup_error_in_every_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("not_python.sh");
    // Runs, succeeds and prints: only asking it what it is tells it from python.
    std::fs::write(&script, "#!/bin/sh\necho 'hello from sh'\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pass = fixture("pass.py");
    let mut problems = Vec::new();
    for python in [PathBuf::from("/bin/true"), script] {
        for mode in ["subprocess", "fork", "warm"] {
            for command in [&["run"][..], &["validate", "--json"], &["batch", "-q"]] {
                let mut cmd = runner();
                cmd.args(command).args(["--mode", mode, "--python"]).arg(&python).arg(&pass);
                let mentions = [python.to_str().unwrap(), "did not answer as a Python 3 interpreter"];
                if let Some(problem) = setup_error_problem(&finish(&mut cmd), &mentions) {
                    problems.push(format!(
                        "runner {} --mode {mode} --python {}: {problem}",
                        command.join(" "),
                        python.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} failing cases:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn a_preload_that_never_finishes_importing_is_a_setup_error_naming_it_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let pass = fixture("pass.py");
    for (i, command) in
        [&["validate", "--json"][..], &["batch", "-q"], &["run", "--mode", "fork"]].iter().enumerate()
    {
        let pid_file = dir.path().join(format!("pids-{i}"));
        let mut cmd = runner();
        cmd.env("PYTHONPATH", fixture("preload"))
            .env("PID_FILE", &pid_file)
            .args(*command)
            .args(["--preload", "json,hang_at_import,textwrap", "--startup-timeout", "2"])
            .arg(&pass);
        let out = finish(&mut cmd);
        let ctx = format!("runner {} --preload json,hang_at_import,textwrap", command.join(" "));
        // The one that hangs is named, not the list.
        let named = ["while importing the preload hang_at_import;", "--startup-timeout"];
        if let Some(problem) = setup_error_problem(&out, &named) {
            panic!("{ctx}: {problem}");
        }
        let pids: Vec<u32> = std::fs::read_to_string(&pid_file)
            .unwrap_or_else(|e| panic!("{ctx}: the preload never started importing ({e})"))
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_all_die(&pids, &format!("{ctx}: the worker and the child its preload started"));
    }
}

#[test]
fn junit_cases_carry_at_most_64_kib_of_each_output_and_the_report_is_well_formed_xml() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    let big = corpus.join("big.py");
    // A megabyte on each stream, every line numbered so that head and tail can be told apart.
    std::fs::write(
        &big,
        "import sys\nfor i in range(20000):\n    print(f'out {i:06} ' + 'o' * 40)\n    \
         print(f'err {i:06} ' + 'e' * 40, file=sys.stderr)\nsys.exit(1)\n",
    )
    .unwrap();
    let odd = corpus.join("odd.py");
    std::fs::write(&odd, "print('\\x1b[31mred\\x1b[0m <&> \"q\" \\'a\\' ]]> bell\\x07 nul\\x00 end')\n")
        .unwrap();
    let jsonl = dir.path().join("results.jsonl");
    let junit = dir.path().join("junit.xml");
    let out = finish(
        runner().args(["batch", "-q", "--output"]).arg(&jsonl).arg("--junit").arg(&junit).arg(&corpus),
    );
    assert_eq!(out.status.code(), Some(1), "big.py fails; {}", describe(&out));

    // The standard library's XML parser reads the report (it fails on a report that is not well-formed).
    let parsed = Command::new(test_python()).arg(fixture("junit_facts.py")).arg(&junit).output().unwrap();
    assert!(parsed.status.success(), "the JUnit report is not well-formed XML: {}", text(&parsed.stderr));
    let facts: Value = serde_json::from_slice(&parsed.stdout).unwrap();
    let suite = &facts["suite"];
    assert_eq!((suite["tests"].as_str(), suite["failures"].as_str()), (Some("2"), Some("1")), "{suite}");

    let records = whole_records(&jsonl);
    let record = |p: &Path| records.iter().find(|r| r["program"] == p.to_str().unwrap()).expect("a record");
    let case = |p: &Path| &facts["cases"][p.to_str().unwrap()];
    let big_case = case(&big);
    for (element, stream) in [("system-out", "stdout"), ("system-err", "stderr"), ("failure", "stderr")] {
        let whole = record(&big)[stream].as_str().unwrap();
        assert!(whole.len() > 1_000_000, "the JSONL keeps {stream} whole: {} bytes", whole.len());
        let shown =
            big_case[element].as_str().unwrap_or_else(|| panic!("big.py has no <{element}>: {big_case}"));
        let half = JUNIT_OUTPUT_CAP / 2;
        let marker = format!(
            "\n[runner: {} bytes left out here; reports keep the first and last 32 KiB of each output, the JSONL all of it]\n",
            whole.len() - JUNIT_OUTPUT_CAP
        );
        assert_eq!(
            shown,
            format!("{}{marker}{}", &whole[..half], &whole[whole.len() - half..]),
            "<{element}> of big.py: its first and last 32 KiB of {stream} and the marker"
        );
    }
    assert_eq!(
        case(&odd)["system-out"],
        "red <&> \"q\" 'a' ]]> bell nul end\n",
        "markup escaped, ANSI and control characters dropped"
    );
}

/// Runs `cmd` to its end with its output in files and returns it with the peak resident set of
/// that one process (and what it reaped), in bytes: `wait4`'s `ru_maxrss`, which other tests
/// running beside this one in the same test process do not reach (as `RUSAGE_CHILDREN` would under
/// `cargo test`). Killed, and the test failed, past [`HANG_LIMIT`].
fn finish_measured(cmd: &mut Command) -> (Output, u64) {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    // Reaped below by wait4 itself, which gives its rusage; std's wait would not.
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start runner");
    let pid = child.id() as libc::pid_t;
    let (done, watchdog) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if watchdog.recv_timeout(HANG_LIMIT).is_err() {
            // SAFETY: a plain signal to our own child, not yet reaped (we are still in wait4).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: our own child's pid, and pointers to locals we own.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let _ = done.send(());
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    let out = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    (out, usage.ru_maxrss as u64 * 1024)
}

#[test]
fn a_batch_with_junit_does_not_keep_the_programs_outputs_in_memory() {
    // The shape of the report that found it: two dozen programs with large outputs. --junit used to
    // keep every output until the end (1.75 GiB against 0.58 GiB without it, for 24 programs of 64
    // MiB); now records are read back from disk one at a time, so the peak is what is in flight.
    const PROGRAMS: usize = 24;
    const OUTPUT: usize = 4 << 20;
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    for i in 0..PROGRAMS {
        let program = format!("import sys\nsys.stdout.write('{i:02}' + 'o' * {})\n", OUTPUT - 2);
        std::fs::write(corpus.join(format!("p{i:02}.py")), program).unwrap();
    }
    let jsonl = dir.path().join("results.jsonl");
    let junit = dir.path().join("junit.xml");
    let (out, peak) = finish_measured(
        runner()
            .args(["batch", "-q", "--workers", "2", "--output"])
            .arg(&jsonl)
            .arg("--junit")
            .arg(&junit)
            .arg(&corpus),
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let records = whole_records(&jsonl);
    assert_eq!(records.len(), PROGRAMS);
    assert!(records.iter().all(|r| r["stdout"].as_str().is_some_and(|s| s.len() == OUTPUT)));
    let total = (PROGRAMS * OUTPUT) as u64;
    assert!(
        peak < total,
        "the runner's peak RSS ({} MiB) reached the programs' whole output ({} MiB): outputs were kept",
        peak >> 20,
        total >> 20
    );
}

/// Pids of the processes whose command line has `word` as an argument and whose executable is
/// `binary` (or was, before it was replaced).
fn processes_of(binary: &Path, word: &str) -> Vec<u32> {
    let deleted = format!("{} (deleted)", binary.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            (exe == binary || exe.as_os_str().as_bytes() == deleted.as_bytes())
                && cmdline.split(|b| *b == 0).any(|a| a == word.as_bytes())
        })
        .collect()
}

fn a_runner_upgraded_in_the_middle_of_a_batch_goes_on_starting_its_own_workers(mode: &str) {
    // runner replaced on disk while a batch runs (`cargo install` renames a new binary over it): the
    // batch goes on starting the workers it started with (a nanny per program in subprocess mode, a
    // new zygote after one died in warm and fork mode), never the new file, which may not speak its
    // protocol.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let copy = bin.join("runner");
    std::fs::copy(runner_tests::runner_bin(), &copy).unwrap();
    let started = dir.path().join("started");
    let release = dir.path().join("release");
    let gate = dir.path().join("a_gate.py");
    std::fs::write(
        &gate,
        format!(
            "import os, time\nif not os.path.exists({started:?}):\n    open({started:?}, 'w').close()\n    \
             while not os.path.exists({release:?}):\n        time.sleep(0.01)\nprint('gate passed')\n"
        ),
    )
    .unwrap();
    let mut programs = vec![gate];
    for i in 0..4 {
        let p = dir.path().join(format!("b_{i}.py"));
        std::fs::write(&p, format!("import sys\nprint('after {i}')\nsys.exit({})\n", i % 2)).unwrap();
        programs.push(p);
    }
    let out = dir.path().join("r.jsonl");
    let mut cmd = runner_tests::runner_at(&copy);
    cmd.args(["batch", "-q", "--mode", mode, "--workers", "1", "-o"]).arg(&out).args(&programs);
    let ctx = format!("{mode}, runner replaced mid-batch");
    let run = std::thread::spawn(move || finish(&mut cmd));
    let deadline = std::time::Instant::now() + HANG_LIMIT;
    while !started.exists() {
        assert!(std::time::Instant::now() < deadline, "{ctx}: the gate never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // The zygote: the worker process whose parent is not one (executors and their nannies are
    // forked from it and keep its command line).
    let workers = processes_of(&copy, "__worker");
    let parent = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit_once(") ").and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok())
    };
    let zygotes: Vec<u32> =
        workers.iter().copied().filter(|&p| parent(p).is_none_or(|pp| !workers.contains(&pp))).collect();
    // The upgrade: a new file renamed over the old one. Run, it leaves a mark and fails.
    let impostor_ran = dir.path().join("impostor-ran");
    let new = bin.join("runner.new");
    std::fs::write(&new, format!("#!/bin/sh\ntouch {impostor_ran:?}\nexit 70\n")).unwrap();
    std::fs::set_permissions(&new, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::rename(&new, &copy).unwrap();
    if mode != "subprocess" {
        assert_eq!(zygotes.len(), 1, "{ctx}: the zygote: {zygotes:?}");
        // SAFETY: kill with a plain pid and signal.
        unsafe { libc::kill(zygotes[0] as i32, libc::SIGKILL) };
    }
    std::fs::write(&release, "").unwrap();
    let run = run.join().unwrap();
    assert_eq!(run.status.code(), Some(1), "{ctx}: {}", describe(&run));
    assert!(!impostor_ran.exists(), "{ctx}: the new file was started");
    let records = whole_records(&out);
    let got: Vec<(String, i64, String)> = records
        .iter()
        .map(|r| {
            let program = r["program"].as_str().unwrap_or_default();
            let name = Path::new(program).file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                r["returncode"].as_i64().unwrap_or(-1000),
                r["stdout"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut want = vec![("a_gate.py".to_string(), 0, "gate passed\n".to_string())];
    want.extend((0..4).map(|i| (format!("b_{i}.py"), i64::from(i % 2), format!("after {i}\n"))));
    assert_eq!(got, want, "{ctx}: every program's result, in order");
}
