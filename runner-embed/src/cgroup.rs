//! Tracking everything a program starts, wherever it goes: a control group (cgroup v2) per executor
//! and per `python /abs/prog.py`, where the machine lets the runner make them. A process group and
//! the output pipes find most of what a program leaves behind; a process that left its session
//! (`setsid`), closed its output and went on is found only here, and killed with the cgroup
//! (`cgroup.kill`).
//!
//! The runner makes `runner-<pid>` under its own cgroup in the unified hierarchy and one cgroup per
//! executor or program inside it, with no controller enabled (so nothing is limited or accounted,
//! only grouped). Where that is not possible (no cgroup v2, or a cgroup the runner may not write to, as
//! an unprivileged user's session often is), tracking falls back to process groups and pipes, as
//! docs/architecture.md says.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The runner's own cgroup directory for its programs, if it could make one.
static TREE: OnceLock<Option<PathBuf>> = OnceLock::new();

/// The runner's cgroup for its programs (made on first use), or `None` where none can be made.
fn tree() -> Option<&'static Path> {
    TREE.get_or_init(|| {
        if std::env::var_os("RUNNER_NO_CGROUPS").is_some_and(|v| !v.is_empty() && v != "0") {
            return None;
        }
        let dir = own_cgroup()?.join(format!("runner-{}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        Some(dir)
    })
    .as_deref()
}

/// This process's cgroup directory in the unified (v2) hierarchy.
fn own_cgroup() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // "... <mount point> ... - cgroup2 ..."
    let mount = mounts.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        right.starts_with("cgroup2 ").then(|| left.split(' ').nth(4).map(PathBuf::from))?
    })?;
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(mount.join(own.trim_start_matches('/')))
}

/// One cgroup of the runner's: an executor's, or one program's. Removed (its processes killed first)
/// when dropped.
#[derive(Debug)]
pub struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    /// A new cgroup named `name` in the runner's tree, or `None` where cgroups are not available.
    pub fn new(name: &str) -> Option<Cgroup> {
        let dir = tree()?.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => Some(Cgroup { dir }),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Some(Cgroup { dir }),
            Err(_) => None,
        }
    }

    /// The cgroup's directory (a nanny moves itself there).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Moves process `pid` (and its future children) into the cgroup.
    pub fn add(&self, pid: i32) -> io::Result<()> {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string())
    }

    /// The processes in the cgroup now.
    pub fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Kills every process in the cgroup, whatever session or group it is in.
    pub fn kill_all(&self) {
        if std::fs::write(self.dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        // Kernels before 5.14: one by one, until no fork outruns the kills.
        for _ in 0..100 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // A cgroup can only go once it is empty: what is left is killed, then it goes when the kernel
        // has seen the last of them (killed processes leave a moment after the signal; a process
        // that has just exited, usually within microseconds). Waits from 20 µs, doubling up to 5 ms,
        // a second in all: this runs once per program, so a fixed wait would be paid by every one.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        let mut wait = std::time::Duration::from_micros(20);
        for attempt in 0.. {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            if attempt == 0 {
                self.kill_all();
            }
            if std::time::Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(std::time::Duration::from_millis(5));
        }
    }
}

/// Removes the runner's cgroup tree (its programs' cgroups are gone by then); called as the runner
/// ends.
pub fn remove_tree() {
    if let Some(Some(dir)) = TREE.get() {
        let _ = std::fs::remove_dir(dir);
    }
}
