//! Helpers for runner's end-to-end tests: where the `runner` binary and the test Python are, the
//! program fixtures, and the reference result of running a program with `python /abs/prog.py`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod fuzz;

/// The `runner` binary of this build (`target/<profile>/runner`), next to the test executable's `deps/`.
pub fn runner_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("runner");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first (cargo test --workspace / cargo xtask test build it)",
        bin.display()
    );
    bin
}

/// The Python the tests use: `RUNNER_TEST_PYTHON` (set by `cargo xtask test` to the test environment
/// with numpy and torch), else `python3` on PATH for quick local runs.
pub fn test_python() -> PathBuf {
    match std::env::var_os("RUNNER_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "RUNNER_TEST_PYTHON is not set: in CI the tests run through `cargo xtask test`"
            );
            PathBuf::from("python3")
        }
    }
}

/// Fails (never skips) when the test Python lacks `module`: tests that need numpy or torch get them
/// from the environment `cargo xtask test` sets up.
pub fn require_module(module: &str) {
    let ok = Command::new(test_python())
        .args(["-c", &format!("import {module}")])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the test Python {} cannot import {module}: run the tests with `cargo xtask test`",
        test_python().display()
    );
}

/// Absolute path of a file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// A `runner` command with the test Python selected and `VIRTUAL_ENV` cleared.
pub fn runner() -> Command {
    runner_at(&runner_bin())
}

/// [`runner`], from the binary at `binary` (a copy of it).
pub fn runner_at(binary: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.env_remove("VIRTUAL_ENV").env_remove("CUDA_VISIBLE_DEVICES").env("RUNNER_PYTHON", test_python());
    cmd.stdin(Stdio::null());
    cmd
}

/// What `python /abs/prog.py args...` does with stdin from /dev/null: the reference.
pub fn python_reference(program: &Path, args: &[&str]) -> Output {
    close_inherited_fds();
    Command::new(test_python())
        .arg(program)
        .args(args)
        .env_remove("CUDA_VISIBLE_DEVICES")
        .stdin(Stdio::null())
        .output()
        .expect("run the reference python")
}

/// Marks every descriptor above 2 of this test process close-on-exec, so that the reference python
/// starts with descriptors 0 to 2 only, as ProgramRunner's `subprocess.run` (`close_fds=True`) starts
/// it, whatever this process inherited (a CI job may leave some open). Done here rather than between
/// fork and exec, so that the reference is still started as before (`posix_spawn`, whose signal
/// set-up a `pre_exec` would change). The standard library opens everything close-on-exec already.
pub fn close_inherited_fds() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC closes nothing; it only sets a flag.
    unsafe { libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) };
}

/// A command's exit status, stderr and stdout, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit status {:?}\n--- stderr ---\n{}\n--- stdout ---\n{}",
        out.status,
        text(&out.stderr),
        text(&out.stdout)
    )
}

/// Python's returncode for a wait status: the exit code, or minus the signal number.
pub fn returncode(output: &Output) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match output.status.signal() {
        Some(sig) => -sig,
        None => output.status.code().expect("exit code"),
    }
}

/// Decodes output as runner reports it: UTF-8 with replacement, universal newlines.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", "\n").replace('\r', "\n")
}

/// Parses `runner validate --json` output.
pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "runner did not print one JSON object ({e}); stdout: {}; stderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The Python version (`major.minor`) the runner binary embeds, from `runner --version`
/// (`runner 0.1.0 (embeds Python 3.11)`).
pub fn linked_python() -> String {
    let out = Command::new(runner_bin()).arg("--version").output().expect("runner --version");
    let text = text(&out.stdout);
    text.split("embeds Python ")
        .nth(1)
        .and_then(|v| v.split(')').next())
        .expect("version names the Python")
        .to_string()
}

/// How long a process the runner should have ended may live on before a test calls it a leak. It
/// bounds a hang; it measures nothing.
pub const HANG_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `cmd` in its own process group with stdout and stderr piped and collects its output; kills
/// the group and fails the test if it has not finished within `limit`. With `input`, stdin is a pipe
/// that gets those bytes and then its end of file; without, stdin is as `cmd` set it, and a piped
/// stdin is held open, unwritten, until the command is done (so a program that reads it blocks, as
/// one with an inherited terminal would).
pub fn finish_within(cmd: &mut Command, input: Option<&[u8]>, limit: std::time::Duration) -> Output {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let stdin = child.stdin.take();
    let held = match (input, stdin) {
        (Some(input), Some(mut stdin)) => {
            let input = input.to_vec();
            // Written from a thread so that a command that does not read cannot block the test;
            // dropping the pipe afterwards is the end of file.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
            None
        }
        (_, stdin) => stdin,
    };
    let output = wait_within(child, limit, &format!("{cmd:?}"));
    drop(held);
    output
}

/// Waits for `child` (spawned in its own process group, its stdout and stderr piped) and collects
/// its output; kills the group and fails the test, naming `what`, if it has not ended within `limit`.
pub fn wait_within(child: std::process::Child, limit: std::time::Duration, what: &str) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap_or_else(|e| panic!("waiting for {what}: {e}")),
        Err(_) => {
            // The child is not reaped until wait_with_output returns, so its pid still names its
            // group here.
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
            panic!("no result within {limit:?} (killed): {what}");
        }
    }
}

/// Waits for every process of `pids` to exit (`fixtures/wait_for_exit.py` waits on pidfds) and fails
/// the test, after killing them, if some still live after [`HANG_LIMIT`]. `what` names them.
pub fn assert_all_die(pids: &[u32], what: &str) {
    let out = Command::new(test_python())
        .arg(fixture("wait_for_exit.py"))
        .arg(HANG_LIMIT.as_secs().to_string())
        .args(pids.iter().map(u32::to_string))
        .stdin(Stdio::null())
        .output()
        .expect("run wait_for_exit.py");
    assert!(
        out.status.success(),
        "{what}: pids {} (of {pids:?}) were still alive {HANG_LIMIT:?} after the runner returned",
        text(&out.stdout).split_whitespace().collect::<Vec<_>>().join(", "),
    );
}

/// A line diff of two texts: the common head and tail trimmed to a little context, the differing
/// middle as `-` (expected) and `+` (actual) lines, each side capped (as the differential suite
/// shows them); `max_lines` caps each side.
pub fn line_diff(expected: &str, actual: &str, max_lines: usize) -> String {
    use std::fmt::Write as _;
    const DIFF_CONTEXT: usize = 2;
    let want: Vec<&str> = expected.split_inclusive('\n').collect();
    let got: Vec<&str> = actual.split_inclusive('\n').collect();
    let head = want.iter().zip(&got).take_while(|(a, b)| a == b).count();
    let tail = want[head..].iter().rev().zip(got[head..].iter().rev()).take_while(|(a, b)| a == b).count();
    let mut out = String::new();
    let context_start = head.saturating_sub(DIFF_CONTEXT);
    if context_start > 0 {
        let _ = writeln!(out, "  ... {context_start} equal lines");
    }
    for line in &want[context_start..head] {
        let _ = writeln!(out, "  {}", show(line));
    }
    for (sign, lines) in [('-', &want[head..want.len() - tail]), ('+', &got[head..got.len() - tail])] {
        for line in lines.iter().take(max_lines) {
            let _ = writeln!(out, "{sign} {}", show(line));
        }
        if lines.len() > max_lines {
            let _ = writeln!(out, "{sign} ... {} more lines", lines.len() - max_lines);
        }
    }
    let context_end = (want.len() - tail + DIFF_CONTEXT).min(want.len());
    for line in &want[want.len() - tail..context_end] {
        let _ = writeln!(out, "  {}", show(line));
    }
    if context_end < want.len() {
        let _ = writeln!(out, "  ... {} equal lines", want.len() - context_end);
    }
    out
}

/// One line for a report: control characters escaped, a missing final newline marked, long lines cut.
pub fn show(line: &str) -> String {
    use std::fmt::Write as _;
    const MAX_CHARS: usize = 200;
    let (body, newline) = match line.strip_suffix('\n') {
        Some(body) => (body, true),
        None => (line, false),
    };
    let mut shown = String::new();
    for (i, c) in body.chars().enumerate() {
        if i == MAX_CHARS {
            let _ = write!(shown, "... ({} chars)", body.chars().count());
            break;
        }
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    if !newline {
        shown.push_str(" [no newline]");
    }
    shown
}

/// One `#[test]` per mode and behaviour: `per_mode!(warm, fork; { test_a, test_b })` makes
/// `mod warm { #[test] fn test_a() { super::test_a("warm") } ... }` for every mode.
#[macro_export]
macro_rules! per_mode {
    ($($mode:ident),* ; $tests:tt) => {
        $($crate::per_mode!(@mode $mode $tests);)*
    };
    (@mode $mode:ident { $($test:ident),* $(,)? }) => {
        mod $mode {
            $(
                #[test]
                fn $test() {
                    super::$test(stringify!($mode));
                }
            )*
        }
    };
}

/// The keys every result object has (README, "Result fields"), before the optional ones.
pub const RESULT_KEYS: &[&str] = &[
    "success",
    "stdout",
    "stderr",
    "returncode",
    "program",
    "mode",
    "device",
    "duration",
    "timed_out",
    "truncated",
    "leaked_pipes",
];

/// Takes `program_time` out of `keys` if the result has it, checking that only an embedded mode
/// reports it (the executor's own measure of the program) and that it is a duration.
pub fn take_program_time(
    keys: &mut std::collections::BTreeSet<&str>,
    v: &serde_json::Value,
    mode: &str,
    ctx: &str,
) {
    if keys.remove("program_time") {
        assert_ne!(mode, "subprocess", "{ctx}: program_time in subprocess mode");
        assert!(
            v["program_time"].as_f64().is_some_and(|t| t >= 0.0),
            "{ctx}: program_time {}",
            v["program_time"]
        );
    }
}

/// One entry of runner's warm-state registry (`runner-embed/src/warm_state.py`, `REGISTRY`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryEntry {
    /// Its name.
    pub name: String,
    /// `python` or `c` (implemented in runner-embed/src/state.rs).
    pub level: String,
    /// The point of python's own shutdown where it is also applied, if any.
    pub at: Option<String>,
}

/// The warm-state registry as the executor has it: `warm_state.py` run by the test Python (it needs
/// only the standard library to define its entries), its `REGISTRY` read back in order.
pub fn warm_state_registry() -> Vec<RegistryEntry> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runner-embed/src/warm_state.py");
    let script = "import json, sys\n\
                  ns = {'__name__': '_runner_warm_state'}\n\
                  exec(compile(open(sys.argv[1]).read(), sys.argv[1], 'exec'), ns)\n\
                  print(json.dumps([[e.name, e.level, e.at] for e in ns['REGISTRY']]))";
    let out = Command::new(test_python())
        .args(["-c", script])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run the test Python");
    assert!(out.status.success(), "reading the registry of {} failed: {}", file.display(), text(&out.stderr));
    let entries: Vec<(String, String, Option<String>)> =
        serde_json::from_slice(&out.stdout).expect("the registry as JSON");
    entries.into_iter().map(|(name, level, at)| RegistryEntry { name, level, at }).collect()
}

/// What `python /abs/prog.py` does with stdin from /dev/null when its parent is a process of its
/// own that a hostile program may signal, stop or kill (`os.kill(os.getppid(), SIGKILL)` would
/// otherwise kill the test): python runs under a sheltering parent, `tests/fixtures/shelter.py`, and
/// the test process, a child subreaper, adopts python if that parent dies, and continues it if it
/// was stopped. The reference for programs that reach for their parent.
pub fn python_reference_sheltered(program: &Path) -> Output {
    use std::io::{BufRead, BufReader};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl with plain integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors, which are owned below.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0, "pipe2");
    // SAFETY: pipe2 just returned these descriptors to us alone.
    let (report_r, report_w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let raw = report_w.as_raw_fd();
    let mut cmd = Command::new(test_python());
    cmd.arg(fixture("shelter.py")).arg(test_python()).arg(program);
    cmd.env_remove("CUDA_VISIBLE_DEVICES").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.process_group(0);
    // Descriptors 0 to 2 only, as under ProgramRunner, then the report at 3.
    close_inherited_fds();
    // SAFETY: dup2 is async-signal-safe; it clears close-on-exec on the copy.
    unsafe {
        cmd.pre_exec(
            move || if libc::dup2(raw, 3) < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) },
        );
    }
    let mut shelter = cmd.spawn().expect("start the sheltered reference python");
    drop(report_w);
    let (out, err) = (shelter.stdout.take().unwrap(), shelter.stderr.take().unwrap());
    let collect = |mut r: std::process::ChildStdout| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut v).unwrap();
            v
        })
    };
    let stdout = collect(out);
    let stderr = std::thread::spawn(move || {
        let mut r = err;
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut v).unwrap();
        v
    });
    let mut lines = BufReader::new(std::fs::File::from(report_r)).lines();
    let pid: i32 = lines
        .next()
        .and_then(|l| l.ok())
        .and_then(|l| l.strip_prefix("pid ")?.parse().ok())
        .expect("the shelter's pid line");
    let deadline = std::time::Instant::now() + HANG_LIMIT;
    let status = loop {
        // The shelter, stopped by the program, would never report: continue it.
        let _ = shelter.try_wait();
        // SAFETY: kill with a plain pid and signal.
        unsafe { libc::kill(shelter.id() as i32, libc::SIGCONT) };
        // Adopted (the shelter died): ours to reap.
        let mut raw_status = 0;
        // SAFETY: waitpid on a pid; fails harmlessly (ECHILD) while python is the shelter's child.
        if unsafe { libc::waitpid(pid, &mut raw_status, libc::WNOHANG) } == pid {
            break raw_status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sheltered python of {} did not end",
            program.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        if let Ok(Some(code)) = shelter.try_wait().map(|s| s.and_then(|s| s.code())) {
            if code == 0 {
                // The shelter reported python's status before it exited.
                if let Some(status) =
                    lines.next().and_then(|l| l.ok()).and_then(|l| l.strip_prefix("status ")?.parse().ok())
                {
                    break status;
                }
            }
        }
    };
    use std::os::unix::process::ExitStatusExt;
    Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}
