//! Hostile programs and faults (issue 13): programs that close or replace runner's descriptors,
//! signal their parent or their group, replace what runner's own code calls, or leave tracing
//! functions behind; and faults from outside (a killed or stopped zygote or executor). Each hostile
//! program of `tests/hostile/` runs in every mode between ordinary neighbours, and every program's
//! record must be what python gives it (the reference runs python under a parent of its own, which
//! the program may signal or kill), exactly once, within the batch's limits, leaving no process
//! behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use runner_tests::{
    finish_within, python_reference, python_reference_sheltered, returncode, runner, text, HANG_LIMIT,
};
use serde_json::Value;

/// The hostile corpus, sorted.
fn hostile_programs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("hostile");
    let mut programs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    programs.sort();
    programs
}

/// A neighbour: an ordinary program that reports the state a fresh python starts with (cwd, a
/// variable, its descriptors, its signal handlers) and exits with its own code.
fn neighbour(n: usize) -> String {
    format!(
        "import os, signal, sys\n\
         print('neighbour {n}', os.getcwd() == os.environ.get('PWD_AT_START', os.getcwd()), \
         'RUNNER_HOSTILE' in os.environ, sorted(int(fd) for fd in os.listdir('/proc/self/fd'))[:4], \
         signal.getsignal(signal.SIGINT) is signal.default_int_handler, signal.getsignal(signal.SIGTERM))\n\
         sys.exit({})\n",
        n % 3
    )
}

/// Copies the hostile programs into `dir` between neighbours, named so that the sorted order (the
/// order `-j 1` runs them in, one warm executor after another) alternates: neighbour, hostile,
/// neighbour, ... Returns every program's path.
fn interleave(dir: &Path, hostile: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (i, h) in hostile.iter().enumerate() {
        let n = dir.join(format!("{i:02}_a_neighbour.py"));
        std::fs::write(&n, neighbour(i)).unwrap();
        let name = h.file_name().unwrap().to_string_lossy();
        let copy = dir.join(format!("{i:02}_b_{name}"));
        std::fs::copy(h, &copy).unwrap();
        out.extend([n, copy]);
    }
    let last = dir.join(format!("{:02}_a_neighbour.py", hostile.len()));
    std::fs::write(&last, neighbour(hostile.len())).unwrap();
    out.push(last);
    out
}

/// The records of a JSONL file by program path.
fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a cut JSONL line ({e}): {l:?}")))
        .collect()
}

/// Pids of processes whose command line mentions `needle` (what a run left behind).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// Waits (bounded) until no process mentions `needle`; fails naming them.
fn assert_nothing_left(needle: &str, ctx: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_mentioning(needle);
        if left.is_empty() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{ctx}: processes left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// python's result for each program (the sheltered reference).
fn references(programs: &[PathBuf]) -> BTreeMap<String, Output> {
    programs.iter().map(|p| (p.display().to_string(), python_reference_sheltered(p))).collect()
}

fn batch(mode: &str, workers: &str, out: &Path, programs: &[PathBuf], extra: &[&str]) -> Output {
    let mut cmd = runner();
    cmd.args(["batch", "-q", "--mode", mode, "--workers", workers, "--output"])
        .arg(out)
        .args(extra)
        .args(programs);
    finish_within(&mut cmd, None, HANG_LIMIT)
}

/// Every program has exactly one record, equal to python's result.
fn assert_each_matches_python(recs: &[Value], expected: &BTreeMap<String, Output>, ctx: &str) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for r in recs {
        *seen.entry(r["program"].as_str().unwrap_or_default().to_string()).or_default() += 1;
    }
    for (program, python) in expected {
        assert_eq!(seen.get(program), Some(&1), "{ctx}: {program} has {:?} records", seen.get(program));
        let r = recs.iter().find(|r| r["program"] == program.as_str()).unwrap();
        let got = (r["returncode"].as_i64(), r["stdout"].as_str(), r["stderr"].as_str());
        let want = (Some(returncode(python) as i64), Some(text(&python.stdout)), Some(text(&python.stderr)));
        assert_eq!(
            (got.0, got.1.map(str::to_string), got.2.map(str::to_string)),
            (want.0, want.1, want.2),
            "{ctx}: {program} differs from python: {r}"
        );
    }
    assert_eq!(recs.len(), expected.len(), "{ctx}: one record per program");
}

fn every_hostile_program_gets_python_s_result_and_its_neighbours_are_untouched(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let programs = interleave(dir.path(), &hostile_programs());
    let expected = references(&programs);
    for workers in ["1", "2"] {
        let ctx = format!("{mode}, -j {workers}");
        let out = dir.path().join(format!("results-{workers}.jsonl"));
        let run = batch(mode, workers, &out, &programs, &["--timeout", "30"]);
        assert!(
            matches!(run.status.code(), Some(0 | 1)),
            "{ctx}: exit {:?}\nstderr: {}\nstdout: {}\nrecords not python's: {:#?}",
            run.status,
            text(&run.stderr),
            text(&run.stdout),
            records(&out)
                .iter()
                .filter(|r| r["status"] == "engine_failed" || r.get("returncode").is_none())
                .collect::<Vec<_>>()
        );
        assert_each_matches_python(&records(&out), &expected, &ctx);
        assert_nothing_left(&dir.path().display().to_string(), &ctx);
    }
    // Nothing but the programs and the results: no file a run left behind.
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".py") && !n.starts_with("results-"))
        .collect();
    left.sort();
    assert!(left.is_empty(), "{mode}: files left in the run's directory: {left:?}");
}

fn a_hostile_program_that_never_ends_is_timed_out_alone(mode: &str) {
    // One that closes runner's descriptors, one that leaves its process group: --timeout still finds
    // and kills them, and the neighbour after them is untouched.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, source: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, source).unwrap();
        p
    };
    let programs = [
        write("a_closes_and_sleeps.py", "import os, time\nos.closerange(3, 65536)\nprint('closed', flush=True)\ntime.sleep(120)\n"),
        write(
            "b_leaves_its_group.py",
            "import os\nos.setpgid(0, os.getpgid(os.getppid()))\nprint('left', flush=True)\nwhile True:\n    pass\n",
        ),
        write("c_neighbour.py", &neighbour(1)),
    ];
    let out = dir.path().join("r.jsonl");
    let started = std::time::Instant::now();
    let run = batch(mode, "1", &out, &programs, &["--timeout", "2"]);
    let ctx = format!("{mode}, --timeout 2");
    assert_eq!(run.status.code(), Some(1), "{ctx}: {}", text(&run.stderr));
    // Each of the two may take its 2 s, plus its executor's replacement: far less than a hang.
    assert!(started.elapsed() < Duration::from_secs(30), "{ctx}: took {:?}", started.elapsed());
    let recs = records(&out);
    assert_eq!(recs.len(), 3, "{ctx}: {recs:?}");
    for (r, first) in recs.iter().filter(|r| r["timed_out"] == true).zip(["closed\n", "left\n"]) {
        assert_eq!((r["returncode"].as_i64(), r["stdout"].as_str()), (Some(-9), Some(first)), "{ctx}: {r}");
    }
    assert_eq!(recs.iter().filter(|r| r["timed_out"] == true).count(), 2, "{ctx}: {recs:?}");
    let neighbour = recs.iter().find(|r| r["program"].as_str().unwrap().ends_with("c_neighbour.py")).unwrap();
    let python = python_reference_sheltered(&programs[2]);
    assert_eq!(neighbour["stdout"].as_str(), Some(text(&python.stdout).as_str()), "{ctx}: {neighbour}");
    assert_nothing_left(&dir.path().display().to_string(), &ctx);
}

runner_tests::per_mode!(warm, fork, subprocess; {
    every_hostile_program_gets_python_s_result_and_its_neighbours_are_untouched,
    a_hostile_program_that_never_ends_is_timed_out_alone,
    a_program_that_leaves_its_session_is_killed_with_its_run,
    a_fork_bomb_next_door_costs_no_program_its_result,
    programs_start_with_the_signal_dispositions_runner_inherited,
    programs_start_without_the_descriptors_runner_inherited,
});

mod faults {
    use super::*;

    runner_tests::per_mode!(warm, fork; {
        a_killed_zygote_is_replaced_and_no_program_loses_its_result,
        a_stopped_zygote_is_continued_and_no_program_loses_its_result,
        an_executor_killed_from_outside_is_its_program_killed_and_nothing_else,
        a_stopped_executor_counts_against_the_timeout,
    });

    /// A program that says which process runs it (in the embedded modes, its executor), then takes a
    /// while; and neighbours. Returns the programs and the file the pid goes to.
    fn victim_and_neighbours(dir: &Path) -> (Vec<PathBuf>, PathBuf) {
        let pid_file = dir.join("victim.pid");
        let victim = dir.join("p00_victim.py");
        std::fs::write(
            &victim,
            format!(
                "import os, time\nopen({:?} + '.tmp', 'w').write(str(os.getpid()))\nos.rename({:?} + '.tmp', {:?})\ntime.sleep(30)\nprint('never')\n",
                pid_file.display().to_string(),
                pid_file.display().to_string(),
                pid_file.display().to_string()
            ),
        )
        .unwrap();
        let mut programs = vec![victim];
        programs.extend(slow_programs(dir, 6).into_iter().skip(1));
        (programs, pid_file)
    }

    fn wait_for_pid(pid_file: &Path) -> i32 {
        let deadline = std::time::Instant::now() + HANG_LIMIT;
        loop {
            if let Ok(pid) = std::fs::read_to_string(pid_file).map(|s| s.trim().parse::<i32>()) {
                return pid.unwrap();
            }
            assert!(std::time::Instant::now() < deadline, "the victim never started");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The records of the slow neighbours are python's; the victim has one record, `victim` checks it.
    fn assert_victim_alone(out: &Path, programs: &[PathBuf], ctx: &str, victim: impl Fn(&Value)) {
        let recs = records(out);
        assert_eq!(recs.len(), programs.len(), "{ctx}: one record per program: {recs:?}");
        for (i, p) in programs.iter().enumerate().skip(1) {
            let r = recs.iter().find(|r| r["program"] == p.display().to_string()).unwrap();
            assert_eq!(
                (r["returncode"].as_i64(), r["stdout"].as_str()),
                (Some((i % 3) as i64), Some(format!("p{i:02}\n").as_str())),
                "{ctx}: {r}"
            );
        }
        victim(recs.iter().find(|r| r["program"] == programs[0].display().to_string()).unwrap());
    }

    fn an_executor_killed_from_outside_is_its_program_killed_and_nothing_else(mode: &str) {
        // An operator's or the OOM killer's SIGKILL of the process that runs a program is what it
        // would be for python: the program is killed (-9). Its neighbours are untouched, and the
        // record is a result, so --resume does not run it again.
        let dir = tempfile::tempdir().unwrap();
        let (programs, pid_file) = victim_and_neighbours(dir.path());
        let out = dir.path().join("r.jsonl");
        let mut cmd = runner();
        cmd.args(["batch", "-q", "--mode", mode, "--workers", "2", "--output"]).arg(&out).args(&programs);
        let child =
            cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let victim = wait_for_pid(&pid_file);
        // SAFETY: kill with a plain pid and signal.
        unsafe { libc::kill(victim, libc::SIGKILL) };
        let run = runner_tests::wait_within(child, HANG_LIMIT, "the batch");
        let ctx = format!("{mode}, the victim's executor killed");
        assert_eq!(run.status.code(), Some(1), "{ctx}: {}", text(&run.stderr));
        assert_victim_alone(&out, &programs, &ctx, |r| {
            assert_eq!(
                (r["returncode"].as_i64(), r["status"].as_str()),
                (Some(-9), Some("crashed")),
                "{ctx}: {r}"
            )
        });
        let resumed = batch(mode, "2", &out, &programs, &["--resume"]);
        // Nothing to run, so nothing failed in this run.
        assert_eq!(resumed.status.code(), Some(0), "{ctx}, then --resume: {}", text(&resumed.stderr));
        assert_eq!(records(&out).len(), programs.len(), "{ctx}, then --resume: nothing ran again");
    }

    fn a_stopped_executor_counts_against_the_timeout(mode: &str) {
        let dir = tempfile::tempdir().unwrap();
        let (programs, pid_file) = victim_and_neighbours(dir.path());
        let out = dir.path().join("r.jsonl");
        let mut cmd = runner();
        cmd.args(["batch", "-q", "--mode", mode, "--workers", "2", "--timeout", "5", "--output"])
            .arg(&out)
            .args(&programs);
        let child =
            cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let victim = wait_for_pid(&pid_file);
        // SAFETY: kill with a plain pid and signal.
        unsafe { libc::kill(victim, libc::SIGSTOP) };
        let run = runner_tests::wait_within(child, HANG_LIMIT, "the batch");
        let ctx = format!("{mode}, the victim's executor stopped");
        assert_eq!(run.status.code(), Some(1), "{ctx}: {}", text(&run.stderr));
        assert_victim_alone(&out, &programs, &ctx, |r| {
            assert_eq!(
                (r["timed_out"].as_bool(), r["returncode"].as_i64()),
                (Some(true), Some(-9)),
                "{ctx}: {r}"
            )
        });
        assert_nothing_left(&dir.path().display().to_string(), &ctx);
    }

    /// Programs that take a while, so that a fault can strike while they run.
    fn slow_programs(dir: &Path, count: usize) -> Vec<PathBuf> {
        (0..count)
            .map(|i| {
                let p = dir.join(format!("p{i:02}.py"));
                std::fs::write(
                    &p,
                    format!("import sys, time\ntime.sleep(0.4)\nprint('p{i:02}')\nsys.exit({})\n", i % 3),
                )
                .unwrap();
                p
            })
            .collect()
    }

    /// Starts a batch with RUNNER_DEBUG (which names the zygote's pid) and returns it with that pid.
    fn start_debug_batch(mode: &str, out: &Path, programs: &[PathBuf]) -> (std::process::Child, i32) {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        let mut child = runner()
            .args(["batch", "-q", "--mode", mode, "--workers", "2", "--output"])
            .arg(out)
            .args(programs)
            .env("RUNNER_DEBUG", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let zygote = loop {
            let line = lines.next().expect("RUNNER_DEBUG names the zygote").unwrap();
            if let Some(rest) = line.strip_prefix("runner: debug: zygote ") {
                break rest.split_whitespace().next().unwrap().parse::<i32>().unwrap();
            }
        };
        // Keep reading, so that the batch never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        (child, zygote)
    }

    /// Each program's record is what python gives it (the slow programs print their name and exit with
    /// their number modulo 3).
    fn assert_slow_programs_right(out: &Path, programs: &[PathBuf], ctx: &str) {
        let recs = records(out);
        assert_eq!(recs.len(), programs.len(), "{ctx}: one record per program: {recs:?}");
        for (i, p) in programs.iter().enumerate() {
            let r = recs
                .iter()
                .find(|r| r["program"] == p.display().to_string())
                .unwrap_or_else(|| panic!("{ctx}: no record of {}", p.display()));
            assert_eq!(
                (r["returncode"].as_i64(), r["stdout"].as_str()),
                (Some((i % 3) as i64), Some(format!("p{i:02}\n").as_str())),
                "{ctx}: {r}"
            );
        }
    }

    fn a_killed_zygote_is_replaced_and_no_program_loses_its_result(mode: &str) {
        let dir = tempfile::tempdir().unwrap();
        let programs = slow_programs(dir.path(), 10);
        let out = dir.path().join("r.jsonl");
        let (child, zygote) = start_debug_batch(mode, &out, &programs);
        // Once the first results are in, the zygote goes.
        let deadline = std::time::Instant::now() + HANG_LIMIT;
        while records(&out).len() < 2 {
            assert!(std::time::Instant::now() < deadline, "no result came");
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: kill with a plain pid and signal.
        unsafe { libc::kill(zygote, libc::SIGKILL) };
        let status = runner_tests::wait_within(child, HANG_LIMIT, "the batch");
        let ctx = format!("{mode}, the zygote killed mid-batch");
        assert_eq!(status.status.code(), Some(1), "{ctx}: {}", text(&status.stderr));
        assert_slow_programs_right(&out, &programs, &ctx);
        assert_nothing_left(&dir.path().display().to_string(), &ctx);
    }

    fn a_stopped_zygote_is_continued_and_no_program_loses_its_result(mode: &str) {
        let dir = tempfile::tempdir().unwrap();
        let programs = slow_programs(dir.path(), 6);
        let out = dir.path().join("r.jsonl");
        let (child, zygote) = start_debug_batch(mode, &out, &programs);
        // SAFETY: kill with a plain pid and signal.
        unsafe { libc::kill(zygote, libc::SIGSTOP) };
        let status = runner_tests::wait_within(child, HANG_LIMIT, "the batch");
        let ctx = format!("{mode}, the zygote stopped");
        assert_eq!(status.status.code(), Some(1), "{ctx}: {}", text(&status.stderr));
        assert_slow_programs_right(&out, &programs, &ctx);
    }
}

/// Whether this machine lets a process make cgroups (v2) under its own, as runner does to track
/// programs; CI (root on a machine of this kind) does.
fn cgroups_writable() -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    let Some(mount) = mounts.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        right.starts_with("cgroup2 ").then(|| left.split(' ').nth(4).map(PathBuf::from))?
    }) else {
        return false;
    };
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(own) = own.lines().find_map(|l| l.strip_prefix("0::")) else { return false };
    let probe = mount.join(own.trim_start_matches('/')).join(format!("runner-test-{}", std::process::id()));
    let ok = std::fs::create_dir(&probe).is_ok();
    let _ = std::fs::remove_dir(&probe);
    ok
}

fn a_program_that_leaves_its_session_is_killed_with_its_run(mode: &str) {
    if !cgroups_writable() {
        assert!(std::env::var_os("CI").is_none(), "CI must be able to make cgroups (root, cgroup v2)");
        eprintln!("skipped: this machine does not let the test make cgroups, which runner needs for this");
        return;
    }
    // A daemon: a grandchild in a session of its own, its output closed, which nothing but a cgroup
    // ties to the program.
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("{}", 7_000_000 + std::process::id());
    let daemon = dir.path().join("a_daemon.py");
    std::fs::write(
        &daemon,
        format!(
            "import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        null = os.open(os.devnull, os.O_RDWR)\n        for fd in (0, 1, 2):\n            os.dup2(null, fd)\n        os.execv('/bin/sleep', ['sleep', '{marker}'])\n    os._exit(0)\nos.wait()\nprint('started')\n"
        ),
    )
    .unwrap();
    let check = dir.path().join("b_check.py");
    std::fs::write(
        &check,
        format!(
            "import os\ndef cmdline(p):\n    try:\n        return open(f'/proc/{{p}}/cmdline', 'rb').read()\n    except OSError:\n        return b''\nalive = [p for p in os.listdir('/proc') if p.isdigit() and b'{marker}' in cmdline(p)]\nprint('daemon alive', bool(alive))\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("r.jsonl");
    let run = batch(mode, "1", &out, &[daemon, check], &[]);
    assert_eq!(run.status.code(), Some(0), "{mode}: {}", text(&run.stderr));
    let recs = records(&out);
    // In fork and subprocess mode the program's end is its executor's: the daemon is gone before the
    // next program starts. A warm executor goes on; its programs' daemons go when it is retired or the
    // run ends.
    if mode != "warm" {
        let check = recs.iter().find(|r| r["program"].as_str().unwrap().ends_with("b_check.py")).unwrap();
        assert_eq!(check["stdout"], "daemon alive False\n", "{mode}: {check}");
    }
    assert_nothing_left(&marker, mode);
}

/// A cgroup of the `pids` controller (v1 here, or v2 where it is enabled) limited to `max`
/// processes and threads, into which a command can put itself; removed when dropped. `None` where
/// the machine does not let the test make one (CI does: root).
struct PidsLimit {
    dir: PathBuf,
}

impl PidsLimit {
    fn new(max: u32) -> Option<PidsLimit> {
        let v1 = PathBuf::from("/sys/fs/cgroup/pids");
        if !v1.join("cgroup.procs").exists() {
            return None;
        }
        static SEQUENCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = v1.join(format!("runner-fork-bomb-test-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        let limit = PidsLimit { dir };
        std::fs::write(limit.dir.join("pids.max"), max.to_string()).ok()?;
        Some(limit)
    }

    /// Makes `cmd` enter the cgroup before it executes (and so everything it starts).
    fn contain(&self, cmd: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        let procs =
            std::ffi::CString::new(self.dir.join("cgroup.procs").into_os_string().into_encoded_bytes())
                .unwrap();
        // SAFETY: only async-signal-safe calls between fork and exec (open, write, close).
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // "0" is the writing process itself.
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

impl Drop for PidsLimit {
    fn drop(&mut self) {
        for _ in 0..200 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            for pid in std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default().lines() {
                if let Ok(pid) = pid.parse::<i32>() {
                    // SAFETY: kill with a plain pid and signal.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn a_fork_bomb_next_door_costs_no_program_its_result(mode: &str) {
    // The run is limited to 60 processes and threads; one program takes every one it can get and
    // holds them for a second and a half. The programs on the other worker need forks meanwhile (one
    // executor, or one python, per program), which fail with EAGAIN until the bomb lets go: they are
    // tried again, and every program gets python's result.
    let Some(limit) = PidsLimit::new(60) else {
        assert!(std::env::var_os("CI").is_none(), "CI must be able to make a pids cgroup (root)");
        eprintln!("skipped: this machine does not let the test make a pids cgroup");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("a_bomb.py");
    std::fs::write(
        &bomb,
        "import os, signal, time\nchildren = []\nend = time.monotonic() + 1.5\n# Every process it can get, for a second and a half, taking each one that comes free (at most 500:\n# a safety net, the test contains it far below that).\nwhile time.monotonic() < end and len(children) < 500:\n    try:\n        pid = os.fork()\n    except OSError:\n        time.sleep(0.001)\n        continue\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    children.append(pid)\nfor pid in children:\n    os.kill(pid, signal.SIGKILL)\n    os.waitpid(pid, 0)\nprint('the bomb let go')\n",
    )
    .unwrap();
    let mut programs = vec![bomb];
    for i in 0..8 {
        let p = dir.path().join(format!("b_{i}.py"));
        std::fs::write(
            &p,
            format!("import sys, time\ntime.sleep(0.2)\nprint('neighbour {i}')\nsys.exit({})\n", i % 2),
        )
        .unwrap();
        programs.push(p);
    }
    // python's results, the bomb's in a limit of its own (unlimited, it would fill the machine's
    // process table).
    let mut expected = references(&programs[1..]);
    let reference_limit = PidsLimit::new(60).expect("a second pids cgroup");
    let mut python = std::process::Command::new(runner_tests::test_python());
    python.arg(&programs[0]).stdin(std::process::Stdio::null());
    reference_limit.contain(&mut python);
    expected.insert(programs[0].display().to_string(), finish_within(&mut python, None, HANG_LIMIT));
    drop(reference_limit);
    let out = dir.path().join("r.jsonl");
    let mut cmd = runner();
    cmd.args([
        "batch",
        "-q",
        "--mode",
        mode,
        "--workers",
        "2",
        "--max-programs-per-executor",
        "1",
        "--output",
    ])
    .arg(&out)
    .args(&programs);
    limit.contain(&mut cmd);
    let run = finish_within(&mut cmd, None, HANG_LIMIT);
    let ctx = format!("{mode}, a fork bomb in a run limited to 60 processes");
    assert_eq!(run.status.code(), Some(1), "{ctx}: {}", text(&run.stderr));
    assert_each_matches_python(&records(&out), &expected, &ctx);
    let events = std::fs::read_to_string(limit.dir.join("pids.events")).unwrap_or_default();
    let failed: u64 = events.lines().find_map(|l| l.strip_prefix("max ")?.trim().parse().ok()).unwrap_or(0);
    assert!(failed > 0, "{ctx}: no fork failed, so nothing was tested: {events}");
    drop(limit);
}

fn programs_start_with_the_signal_dispositions_runner_inherited(mode: &str) {
    // Started as `nohup` starts a command (SIGHUP ignored) and with SIGINT ignored (as a shell starts a
    // background job): python started by that parent would find both ignored, and so must a program
    // that runner starts, whatever handlers runner installs for itself.
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("dispositions.py");
    std::fs::write(
        &program,
        "import signal\nprint('ignored', [signal.getsignal(s) == signal.SIG_IGN for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)])\n",
    )
    .unwrap();
    let ignoring = |cmd: &mut std::process::Command| {
        // SAFETY: signal() is async-signal-safe; between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                Ok(())
            });
        }
    };
    let mut python = std::process::Command::new(runner_tests::test_python());
    python.arg(&program).stdin(std::process::Stdio::null());
    ignoring(&mut python);
    let want = finish_within(&mut python, None, HANG_LIMIT);
    assert_eq!(text(&want.stdout), "ignored [True, True, False, False]\n", "python under that parent");
    assert_batch_prints(mode, &program, &text(&want.stdout), ignoring);
}

/// Runs `program` alone in a batch whose command `prepare` set up, and asserts that it passed and
/// printed `want`.
fn assert_batch_prints(
    mode: &str,
    program: &Path,
    want: &str,
    prepare: impl FnOnce(&mut std::process::Command),
) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl");
    let mut cmd = runner();
    cmd.args(["batch", "-q", "--mode", mode, "--output"]).arg(&out).arg(program);
    prepare(&mut cmd);
    let run = finish_within(&mut cmd, None, HANG_LIMIT);
    assert_eq!(run.status.code(), Some(0), "{mode}: {}", text(&run.stderr));
    let recs = records(&out);
    assert_eq!(recs[0]["stdout"].as_str(), Some(want), "{mode}: {}", recs[0]);
}

fn programs_start_without_the_descriptors_runner_inherited(mode: &str) {
    // A CI job, a shell or a scheduler may start runner with descriptors above 2 open (and not
    // close-on-exec). python under ProgramRunner (subprocess.run, close_fds=True) never sees them, so
    // a program that runner starts must not either: not at 3, not higher.
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("descriptors.py");
    std::fs::write(
        &program,
        "import os\nfor fd in (3, 9, 200):\n    try:\n        os.fstat(fd)\n        print(fd, 'open')\n    except OSError:\n        print(fd, 'closed')\n",
    )
    .unwrap();
    let want = python_reference(&program, &[]);
    assert_eq!(text(&want.stdout), "3 closed\n9 closed\n200 closed\n", "python under ProgramRunner");
    let file = std::fs::File::open(&program).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&file);
    assert_batch_prints(mode, &program, &text(&want.stdout), |cmd| {
        // SAFETY: dup2 is async-signal-safe (it clears close-on-exec on the copies); between fork and
        // exec.
        unsafe {
            cmd.pre_exec(move || {
                for slot in [3, 9, 200] {
                    if libc::dup2(raw, slot) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    });
}
