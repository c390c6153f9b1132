//! The supervisor's side of the embedded engine: it starts the worker process (the zygote), asks it
//! for executors, and drives one executor per calling thread through the shared supervision loop.
//!
//! One zygote serves a whole run: the preloads are imported once, and each worker thread of the run
//! asks it for executors. A reader thread receives everything the zygote says and routes it: fork
//! replies to the thread that asked, exit statuses to the executor's owner.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};

use runner_core::exit::ExitStatus;
use runner_core::{Attempt, Mode, ProgramSpec, RunConfig, RunResult};

use crate::protocol::{
    self, FromExecutor, FromZygote, ProgramDone, RetireReason, RunProgram, Setup, ToZygote,
};
use crate::supervise::{supervise, Limits, Outcome, Watched};
use crate::worker::{WORKER_FD, WORKER_SUBCOMMAND};
use crate::{unix, EngineError};

/// The Python version this binary embeds (`major.minor`).
pub const LINKED_PYTHON: &str = env!("RUNNER_LINKED_PYTHON");

/// The standard library of the Python this binary was built against (empty when the build could
/// not ask it).
const LINKED_STDLIB: &str = env!("RUNNER_LINKED_STDLIB");

/// What the selected interpreter says about itself.
#[derive(Clone, Debug)]
pub struct PythonFacts {
    /// `sys.executable`: the real binary, even when the user named a launcher or shim.
    pub executable: PathBuf,
    /// `major.minor`.
    pub version: String,
    /// `sys.version`: the release, the build and the compiler.
    pub build: String,
    /// Its standard library (`sysconfig.get_path("stdlib")`).
    pub stdlib: PathBuf,
    /// The shared libpython it loads, when it was built with one.
    pub libpython: Option<PathBuf>,
}

/// The marker the probe's facts follow: only the probe prints it, so an executable that is not
/// Python (`/bin/true`, a shell script) cannot pass.
const PROBE_MARKER: &[u8] = b"\0runner-probe-1\0";

/// What the probe prints: the marker, then the facts, each NUL-terminated; paths go out as the bytes
/// they are. The interpreter's start-up may print too (a `.pth` file can), before the marker; the
/// probe ends with `os._exit` so that exit handlers registered at start-up print nothing after it.
const PROBE: &str = "import os, sys, sysconfig
shared = sysconfig.get_config_var('Py_ENABLE_SHARED') and sysconfig.get_config_var('INSTSONAME')
lib = os.path.join(sysconfig.get_config_var('LIBDIR') or '', shared) if shared else ''
facts = [sys.executable, '%d.%d' % sys.version_info[:2], sys.version, sysconfig.get_path('stdlib'), lib]
sys.stdout.flush()
sys.stdout.buffer.write(b'\\0runner-probe-1\\0' + b''.join(os.fsencode(f) + b'\\0' for f in facts))
sys.stdout.buffer.flush()
os._exit(0)
";

/// Asks the selected interpreter what it is; an error when it does not answer as a Python 3 does.
pub fn probe(python: &Path) -> Result<PythonFacts, EngineError> {
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new(python)
        .args(["-c", PROBE])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|source| EngineError::Spawn { python: python.to_path_buf(), source })?;
    let after_marker = out
        .stdout
        .windows(PROBE_MARKER.len())
        .rposition(|w| w == PROBE_MARKER)
        .map(|at| &out.stdout[at + PROBE_MARKER.len()..]);
    let facts: Vec<&[u8]> = after_marker.map(|f| f.split(|b| *b == 0).collect()).unwrap_or_default();
    let path = |b: &[u8]| PathBuf::from(std::ffi::OsStr::from_bytes(b));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match facts[..] {
        [exe, version, build, stdlib, lib, b""] if out.status.success() && !exe.is_empty() => {
            Ok(PythonFacts {
                executable: path(exe),
                version: text(version),
                build: text(build),
                stdlib: path(stdlib),
                libpython: (!lib.is_empty()).then(|| path(lib)),
            })
        }
        _ => Err(EngineError::Probe { python: python.to_path_buf() }),
    }
}

/// Why the selected interpreter is not the one this binary embeds, if it is not: its version and
/// build (`sys.version`, against the linked libpython's own), its standard library (against the
/// build's) and its shared libpython (against the one loaded here). Only that interpreter's
/// libpython with its own standard library makes an embedded python that is the selected one;
/// another patch release of the same minor version (Debian's 3.11 beside pyenv's) starts on a
/// standard library that is not its own ("No module named '_socket'").
pub fn not_embeddable(python: &Path, facts: &PythonFacts) -> Option<String> {
    let embedded = linked_build();
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    if facts.version != LINKED_PYTHON || one_line(&facts.build) != one_line(&embedded) {
        let shown =
            if facts.version != LINKED_PYTHON { facts.version.clone() } else { one_line(&facts.build) };
        let ours =
            if facts.version != LINKED_PYTHON { LINKED_PYTHON.to_string() } else { one_line(&embedded) };
        return Some(format!("{} is Python {shown} but this runner embeds Python {ours}", python.display()));
    }
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if !LINKED_STDLIB.is_empty() && !same(&facts.stdlib, Path::new(LINKED_STDLIB)) {
        return Some(format!(
            "{} uses the standard library in {} but the Python this runner embeds has its own in {LINKED_STDLIB}",
            python.display(),
            facts.stdlib.display()
        ));
    }
    match (&facts.libpython, linked_libpython()) {
        (Some(theirs), Some(ours)) if !same(theirs, &ours) => Some(format!(
            "{} loads {} but this runner embeds {}",
            python.display(),
            theirs.display(),
            ours.display()
        )),
        _ => None,
    }
}

/// `sys.version` of the libpython this binary loaded (`Py_GetVersion`, which needs no interpreter).
fn linked_build() -> String {
    static BUILD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILD
        .get_or_init(|| {
            // SAFETY: Py_GetVersion formats constants of the library into a static buffer and returns
            // it; it may be called before the interpreter is initialised. Called once (OnceLock).
            let version = unsafe { std::ffi::CStr::from_ptr(pyo3::ffi::Py_GetVersion()) };
            version.to_string_lossy().into_owned()
        })
        .clone()
}

/// The file of the libpython this binary loaded.
fn linked_libpython() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: Dl_info is plain data that dladdr fills in.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let symbol = pyo3::ffi::Py_GetVersion as *const libc::c_void;
    // SAFETY: dladdr reads the loader's tables for an address of a loaded function.
    if unsafe { libc::dladdr(symbol, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the loader, valid while it is loaded.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes())))
}

/// How an executor ended, as the zygote reports it.
#[derive(Clone, Copy, Debug)]
struct Exit {
    /// The raw wait status.
    status: i32,
    /// Its parent (its nanny) was killed first, and took the executor with it.
    parent_killed: bool,
}

type ForkReply = Result<(i32, OwnedFd, Receiver<Exit>), String>;

struct Routes {
    forks: HashMap<u64, Sender<ForkReply>>,
    exits: HashMap<i32, Sender<Exit>>,
    floors: HashMap<u64, Sender<f64>>,
}

/// A running zygote, shared by the threads of a run.
pub struct Zygote {
    sock: Mutex<OwnedFd>,
    child: Mutex<Child>,
    routes: Arc<Mutex<Routes>>,
    tokens: AtomicU64,
    version: String,
    /// Cleared by the reader thread when the zygote's socket closes: it is gone.
    alive: Arc<std::sync::atomic::AtomicBool>,
}

/// How many times a run starts a new zygote after one died before it gives up (each costs the
/// preloads' import; a zygote that keeps dying has a cause a new one will not remove).
const MAX_ZYGOTE_RESTARTS: u32 = 8;

/// The zygote of a run, and a new one when it dies: a zygote killed from outside (the OOM killer, an
/// operator) costs the programs running at that moment a second run in executors of the new one,
/// never their results.
pub struct Zygotes {
    config: RunConfig,
    facts: PythonFacts,
    current: Mutex<Arc<Zygote>>,
    restarts: std::sync::atomic::AtomicU32,
}

impl Zygotes {
    /// Starts the run's first zygote.
    pub fn start(config: &RunConfig, facts: &PythonFacts) -> Result<Arc<Zygotes>, EngineError> {
        let zygote = Zygote::start(config, facts)?;
        Ok(Arc::new(Zygotes {
            config: config.clone(),
            facts: facts.clone(),
            current: Mutex::new(zygote),
            restarts: std::sync::atomic::AtomicU32::new(0),
        }))
    }

    /// The zygote in service.
    pub fn current(&self) -> Arc<Zygote> {
        Arc::clone(&self.current.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The zygote that serves after `dead`: a new one if `dead` is still the one in service and is
    /// gone (the first thread to notice starts it; the others get it).
    fn replace(&self, dead: &Arc<Zygote>) -> Result<Arc<Zygote>, EngineError> {
        use std::sync::atomic::Ordering;
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if Arc::ptr_eq(&current, dead) && !(dead.is_alive() && dead.process_lives()) {
            if self.restarts.fetch_add(1, Ordering::Relaxed) >= MAX_ZYGOTE_RESTARTS {
                return Err(EngineError::ZygoteDied);
            }
            if debug_enabled() {
                eprintln!("runner: debug: the zygote died; starting another");
            }
            *current = Zygote::start(&self.config, &self.facts)?;
        }
        Ok(Arc::clone(&current))
    }
}

impl Zygote {
    /// Starts the worker process, initialises its interpreter and imports the preloads, within
    /// `config.startup_timeout`: past it (a preload that hangs) the worker's process group is killed
    /// and the start is a set-up error that names the preloads.
    pub fn start(config: &RunConfig, facts: &PythonFacts) -> Result<Arc<Zygote>, EngineError> {
        let deadline = Instant::now() + config.startup_timeout;
        let mut cmd = unix::own_binary().map_err(EngineError::Worker)?;
        let (ours, theirs) = protocol::pair().map_err(EngineError::Worker)?;
        cmd.arg(WORKER_SUBCOMMAND).stdin(Stdio::null()).stdout(Stdio::null()).process_group(0);
        let theirs_raw = theirs.as_raw_fd();
        // SAFETY: only async-signal-safe calls between fork and exec: dup2 (which clears close-on-exec
        // on the copy) and prctl.
        unsafe {
            cmd.pre_exec(move || {
                unix::dup2_raw(theirs_raw, WORKER_FD)?;
                unix::restore_inherited_signals()?;
                unix::die_with_parent()
            });
        }
        let child = cmd.spawn().map_err(EngineError::Worker)?;
        unix::track_group(child.id());
        drop(theirs);
        let setup = Setup {
            executable: facts.executable.clone(),
            argv0: config.python.to_string_lossy().into_owned(),
            preload: config.preload.clone(),
            bytecode_cache: config.bytecode_cache.clone(),
        };
        protocol::send(ours.as_fd(), &setup, &[]).map_err(EngineError::Worker)?;
        // The zygote says which preload it imports before each one, so that one that never finishes
        // is named.
        let mut importing: Option<String> = None;
        let version = loop {
            if !readable_by(ours.as_fd(), deadline).map_err(EngineError::Worker)? {
                let pid = child.id();
                unix::kill_group(pid);
                let mut child = child;
                let _ = child.kill();
                let _ = child.wait();
                unix::untrack_group(pid);
                let during = match &importing {
                    Some(name) => format!(" while importing the preload {name}"),
                    None => String::new(),
                };
                return Err(EngineError::Setup(format!(
                    "the worker did not start within {} s (--startup-timeout){during}; it was killed \
                     (RUNNER_DEBUG=1 shows the start-up phases)",
                    config.startup_timeout.as_secs_f64()
                )));
            }
            match protocol::recv::<FromZygote>(ours.as_fd()).map_err(EngineError::Worker)? {
                Some((FromZygote::Importing { name }, _)) => importing = Some(name),
                Some((FromZygote::Ready { version, phases }, _)) => {
                    if debug_enabled() {
                        let phases: Vec<String> =
                            phases.iter().map(|(name, s)| format!("{name} {s:.3} s")).collect();
                        eprintln!("runner: debug: zygote {} ready: {}", child.id(), phases.join(", "));
                    }
                    break version;
                }
                Some((FromZygote::SetupFailed { message }, _)) => return Err(EngineError::Setup(message)),
                _ => return Err(EngineError::Setup("the worker exited during start-up".into())),
            }
        };
        let routes = Arc::new(Mutex::new(Routes {
            forks: HashMap::new(),
            exits: HashMap::new(),
            floors: HashMap::new(),
        }));
        let reader_sock = ours.try_clone().map_err(EngineError::Worker)?;
        let reader_routes = Arc::clone(&routes);
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let reader_alive = Arc::clone(&alive);
        let pid = child.id();
        std::thread::Builder::new()
            .name("zygote-reader".into())
            .spawn(move || read_zygote(reader_sock, reader_routes, pid, reader_alive))
            .map_err(EngineError::Worker)?;
        Ok(Arc::new(Zygote {
            sock: Mutex::new(ours),
            child: Mutex::new(child),
            routes,
            tokens: AtomicU64::new(0),
            version,
            alive,
        }))
    }

    /// `sys.version` of the embedded interpreter.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether the zygote is still there (its socket is open).
    pub fn is_alive(&self) -> bool {
        self.alive.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the zygote's process has not ended (the reader thread may not have seen its socket
    /// close yet).
    fn process_lives(&self) -> bool {
        self.child.lock().unwrap_or_else(|e| e.into_inner()).try_wait().is_ok_and(|s| s.is_none())
    }

    /// Times a bare fork + exit + wait of the zygote (everything preloaded): the floor of fork mode.
    pub fn fork_floor(&self) -> Result<Duration, EngineError> {
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = bounded(1);
        self.routes.lock().unwrap().floors.insert(token, tx);
        {
            let sock = self.sock.lock().unwrap();
            protocol::send(sock.as_fd(), &ToZygote::ForkAndReap { token }, &[]).map_err(zygote_error)?;
        }
        rx.recv().map(Duration::from_secs_f64).map_err(|_| EngineError::ZygoteDied)
    }

    /// Forks a fresh executor.
    pub fn fork(&self) -> Result<Executor, EngineError> {
        self.request_fork()?.wait()
    }

    /// Asks for a fresh executor without waiting for it: the fork overlaps with other work.
    pub fn request_fork(&self) -> Result<PendingFork, EngineError> {
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = bounded(1);
        self.routes.lock().unwrap().forks.insert(token, tx);
        let sock = self.sock.lock().unwrap();
        protocol::send(sock.as_fd(), &ToZygote::Fork { token }, &[]).map_err(zygote_error)?;
        Ok(PendingFork { rx })
    }
}

/// A failed send to the zygote: its socket is closed when the zygote is gone.
fn zygote_error(e: io::Error) -> EngineError {
    match e.raw_os_error() {
        Some(libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN) => EngineError::ZygoteDied,
        _ => EngineError::Worker(e),
    }
}

/// An executor being forked.
pub struct PendingFork {
    rx: Receiver<ForkReply>,
}

impl PendingFork {
    /// Waits for the executor.
    pub fn wait(self) -> Result<Executor, EngineError> {
        match self.rx.recv() {
            Ok(Ok((pid, sock, exit))) => {
                // A pidfd tells us the executor died even while something it forked still holds its
                // socket open; the zygote's report then gives the status.
                let pidfd = unix::pidfd_open(pid as u32).ok();
                unix::track_group(pid as u32);
                // Before it runs anything: whatever its programs start is found there.
                let cgroup = crate::cgroup::Cgroup::new(&format!("e{pid}")).filter(|c| c.add(pid).is_ok());
                Ok(Executor {
                    pid,
                    sock,
                    pidfd,
                    exit,
                    parent_killed: false,
                    zygote_gone: false,
                    cgroup,
                    programs: 0,
                    alive: true,
                    group_tracked: true,
                    program_time: None,
                })
            }
            Ok(Err(message)) => Err(EngineError::ForkFailed(message)),
            Err(_) => Err(EngineError::ZygoteDied),
        }
    }
}

impl Drop for Zygote {
    fn drop(&mut self) {
        // Closing our socket makes the zygote kill its executors and exit; then reap it.
        let mut child = self.child.lock().unwrap();
        unix::kill_group(child.id());
        unix::untrack_group(child.id());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// How often the reader thread looks whether the zygote was stopped (SIGSTOP from outside), which
/// nothing else would notice: forks and exit reports would wait for ever.
const ZYGOTE_WATCH: Duration = Duration::from_secs(1);

fn read_zygote(
    sock: OwnedFd,
    routes: Arc<Mutex<Routes>>,
    pid: u32,
    alive: Arc<std::sync::atomic::AtomicBool>,
) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::try_from(ZYGOTE_WATCH).unwrap_or(PollTimeout::MAX)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => {
                if unix::is_stopped(pid as i32) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGCONT,
                    );
                }
                continue;
            }
            Ok(_) => {}
            Err(_) => break,
        }
        let Ok(Some((msg, mut fds))) = protocol::recv::<FromZygote>(sock.as_fd()) else { break };
        let mut r = routes.lock().unwrap();
        match msg {
            FromZygote::Forked { token, pid } => {
                let (etx, erx) = bounded(1);
                r.exits.insert(pid, etx);
                if let (Some(tx), Some(fd)) = (r.forks.remove(&token), fds.pop()) {
                    let _ = tx.send(Ok((pid, fd, erx)));
                }
            }
            FromZygote::ForkFailed { token, message } => {
                if let Some(tx) = r.forks.remove(&token) {
                    let _ = tx.send(Err(message));
                }
            }
            FromZygote::Exited { pid, status, parent_killed } => {
                if let Some(tx) = r.exits.remove(&pid) {
                    let _ = tx.send(Exit { status, parent_killed });
                }
            }
            FromZygote::ForkedAndReaped { token, seconds } => {
                if let Some(tx) = r.floors.remove(&token) {
                    let _ = tx.send(seconds);
                }
            }
            FromZygote::Ready { .. } | FromZygote::SetupFailed { .. } | FromZygote::Importing { .. } => {}
        }
    }
    // The zygote is gone: every waiter learns it through its dropped sender.
    alive.store(false, std::sync::atomic::Ordering::SeqCst);
    let mut r = routes.lock().unwrap();
    r.forks.clear();
    r.exits.clear();
    r.floors.clear();
}

/// A forked executor, driven by one thread at a time.
pub struct Executor {
    pid: i32,
    sock: OwnedFd,
    pidfd: Option<OwnedFd>,
    exit: Receiver<Exit>,
    /// The zygote said the executor died because its parent was killed (by its program).
    parent_killed: bool,
    /// The zygote was gone before it could say how the executor ended.
    zygote_gone: bool,
    /// The executor's cgroup, where cgroups are available: what its programs start, wherever it goes.
    cgroup: Option<crate::cgroup::Cgroup>,
    programs: u32,
    alive: bool,
    /// The executor's process group may still have members to kill.
    group_tracked: bool,
    /// What the executor said its last program took.
    program_time: Option<f64>,
}

struct ExecutorRun<'a> {
    ex: &'a mut Executor,
    warm: bool,
    reusable: bool,
    /// The program's token: the executor's replies carry it.
    token: u64,
    /// The engine, not the program, ended this run (the executor's own code failed, or the program
    /// broke the executor's channel): the run has no result of the program's own.
    failed: Option<EngineError>,
}

/// How long an executor whose socket closed may take to end before the close counts as the
/// program's doing: the kernel closes a dying process's descriptors just before it reports the end.
const EOF_GRACE: Duration = Duration::from_secs(2);

/// The exit status of an executor that found its socket gone after the program (worker/executor.rs,
/// `ExitCode::ChannelLost`). A program may exit with it too; then the fallback gives it its result.
const CHANNEL_LOST: i32 = 74;

impl Executor {
    /// How many programs this executor has run.
    pub fn programs(&self) -> u32 {
        self.programs
    }

    /// Whether it can take another program.
    pub fn alive(&self) -> bool {
        self.alive
    }

    /// The returncode of the executor's death, from the zygote's report.
    fn death(&mut self) -> i32 {
        self.alive = false;
        match self.exit.recv_timeout(Duration::from_secs(30)) {
            Ok(exit) => {
                self.parent_killed = exit.parent_killed;
                ExitStatus::from_wait_status(exit.status).returncode()
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                // The executor went with its zygote (it dies with its nanny, which dies with the
                // zygote): not the program's doing.
                self.zygote_gone = true;
                -libc::SIGKILL
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => -libc::SIGKILL,
        }
    }

    /// Runs one program. With `last`, the executor exits after it (fork mode).
    fn run(&mut self, spec: &ProgramSpec, limits: Limits, last: bool) -> Result<Outcome, EngineError> {
        let (out_r, out_w) = unix::pipe().map_err(EngineError::Supervise)?;
        let (err_r, err_w) = unix::pipe().map_err(EngineError::Supervise)?;
        let token = rand::random::<u64>() | 1;
        let msg = RunProgram {
            token,
            path: spec.path.clone(),
            args: spec.args.clone(),
            env: spec.env.clone(),
            last,
        };
        let start = Instant::now();
        protocol::send(self.sock.as_fd(), &msg, &[out_w.as_raw_fd(), err_w.as_raw_fd()])
            .map_err(EngineError::Worker)?;
        drop((out_w, err_w));
        self.programs += 1;
        self.program_time = None;
        let mut unit = ExecutorRun { ex: self, warm: !last, reusable: false, token, failed: None };
        let outcome = supervise(&mut unit, out_r, err_r, limits, start).map_err(EngineError::Supervise)?;
        let (reusable, failed) = (unit.reusable, unit.failed.take());
        if !reusable {
            // Fork mode, or an executor that cannot go on: it and whatever its program left in its
            // process group go now (the supervision loop has already had its chance to report a leak).
            self.retire();
        }
        match failed {
            Some(error) => Err(error),
            None => Ok(outcome),
        }
    }

    /// Kills the executor itself and its process group: a program that moved the executor into
    /// another group (os.setpgid) is still the executor.
    fn kill(&self) {
        unix::kill_group(self.pid as u32);
        let _ =
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), nix::sys::signal::Signal::SIGKILL);
        if let Some(cgroup) = &self.cgroup {
            cgroup.kill_all();
        }
    }

    /// Whether the executor's process has ended, or ends within `grace`.
    fn ends_within(&self, grace: Duration) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let Some(pidfd) = &self.pidfd else { return true };
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(grace).unwrap_or(PollTimeout::MAX);
        poll(&mut fds, timeout).is_ok_and(|n| n > 0)
    }

    /// Kills the executor's process group (the executor, if it still lives, and its program's
    /// leftovers) and reaps the executor's status.
    fn retire(&mut self) {
        if self.group_tracked {
            self.kill();
            unix::untrack_group(self.pid as u32);
            self.group_tracked = false;
        }
        if self.alive {
            self.death();
        }
    }
}

impl Drop for EmbeddedEngine {
    fn drop(&mut self) {
        // A spare still being forked is received and dropped, so that it is killed like the others.
        if let Some(pending) = self.spare.take() {
            let _ = pending.wait();
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        if self.group_tracked {
            unix::kill_group(self.pid as u32);
            unix::untrack_group(self.pid as u32);
        }
    }
}

impl ExecutorRun<'_> {
    /// Takes the executor's word on how its program ended.
    fn done(&mut self, done: &ProgramDone) {
        self.ex.program_time = Some(done.program_time);
        if done.reason == Some(RetireReason::ChannelMoved) {
            // What the program did with runner's descriptor (python has none there) may be in its
            // output: the result is python's, from the fallback.
            self.failed = Some(EngineError::Channel(RetireReason::ChannelMoved.to_string()));
        }
        if !self.warm {
            self.ex.alive = false;
            return;
        }
        self.reusable = done.reusable;
        if debug_enabled() {
            if let Some(timings) = &done.timings {
                eprintln!("runner: debug: executor {}: end of program: {timings}", self.ex.pid);
            }
            match &done.reason {
                Some(reason) => eprintln!("runner: debug: executor {} retired: {reason}", self.ex.pid),
                None if done.reusable => {
                    eprintln!("runner: debug: executor {} kept for the next program", self.ex.pid)
                }
                None => {}
            }
        }
    }
}

impl Watched for ExecutorRun<'_> {
    fn exit_fds(&self) -> Vec<BorrowedFd<'_>> {
        let mut fds = vec![self.ex.sock.as_fd()];
        fds.extend(self.ex.pidfd.as_ref().map(|p| p.as_fd()));
        fds
    }

    fn poll_exit(&mut self) -> io::Result<Option<i32>> {
        // Warm mode: the executor says how its program ended and stays. Fork mode: it says so just
        // before it exits, so the result does not wait for the zygote to reap it. Without that word
        // (a crash, a kill) only the process's end counts: its socket may live on in what its
        // program forked.
        let msg = protocol::try_recv::<FromExecutor>(self.ex.sock.as_fd());
        match msg {
            // Written by the program (it can write to every descriptor it has), not by the executor.
            Ok(Some((reply, _))) if reply.token() != self.token => {
                return Ok(Some(
                    self.channel_broken("a message the executor did not send came on its socket"),
                ));
            }
            Ok(Some((FromExecutor::Done(done), _))) => {
                self.done(&done);
                return Ok(Some(done.returncode));
            }
            Ok(Some((FromExecutor::Failed { message, .. }, _))) => {
                if debug_enabled() {
                    eprintln!("runner: debug: executor {} failed: {message}", self.ex.pid);
                }
                self.failed = Some(EngineError::ExecutorFailed(message));
                // Its exit status is the executor's own, not the program's.
                self.ex.death();
                return Ok(Some(-libc::SIGKILL));
            }
            // Every copy of the executor's end is closed: it died, or its program closed the socket
            // (or put another file in its place) and goes on, or has just ended and the executor,
            // without its socket, exits with ChannelLost.
            Ok(None) => {
                if !self.ex.ends_within(EOF_GRACE) {
                    return Ok(Some(
                        self.channel_broken("the program closed or replaced the executor's socket"),
                    ));
                }
                let code = self.died();
                if code == CHANNEL_LOST && self.failed.is_none() {
                    self.failed =
                        Some(EngineError::Channel("the program closed the executor's socket".into()));
                }
                return Ok(Some(code));
            }
            Err(e) if e.kind() != io::ErrorKind::WouldBlock && e.raw_os_error().is_none() => {
                return Ok(Some(self.channel_broken("an unreadable message came on the executor's socket")));
            }
            _ => {}
        }
        let pidfd_readable = self.ex.pidfd.as_ref().map(|p| readable(p.as_fd()));
        let would_block = matches!(&msg, Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        if self.warm {
            // Nothing to read: maybe the pidfd woke us; go on waiting while the executor is there.
            if would_block && pidfd_readable != Some(true) {
                return Ok(None);
            }
        } else if pidfd_readable == Some(false) {
            return Ok(None);
        }
        Ok(Some(self.died()))
    }

    fn kill(&mut self) {
        self.ex.kill();
    }

    fn kill_leftovers(&mut self) {
        // The leftovers share the executor's process group; the executor goes with them.
        self.reusable = false;
        self.ex.retire();
    }
}

impl ExecutorRun<'_> {
    /// The executor is gone without a word: its exit status is the program's, unless the zygote says
    /// its parent was killed first (by the program: `os.kill(os.getppid(), SIGKILL)`), which is an
    /// engine failure (the engine then runs the program as `python /abs/prog.py`).
    fn died(&mut self) -> i32 {
        let code = self.ex.death();
        if self.ex.zygote_gone {
            self.failed = Some(EngineError::ZygoteDied);
        } else if self.ex.parent_killed {
            if debug_enabled() {
                eprintln!("runner: debug: executor {}: its parent was killed", self.ex.pid);
            }
            self.failed = Some(EngineError::ParentKilled);
        }
        code
    }

    /// The program broke the channel between the executor and the supervisor: nothing the executor
    /// says can be trusted any more, so it goes, with everything its program started, and the run is
    /// an engine failure (the engine then runs the program as `python /abs/prog.py`).
    fn channel_broken(&mut self, what: &str) -> i32 {
        if debug_enabled() {
            eprintln!("runner: debug: executor {}: {what}", self.ex.pid);
        }
        self.failed = Some(EngineError::Channel(what.to_string()));
        self.reusable = false;
        self.ex.retire();
        -libc::SIGKILL
    }
}

/// `RUNNER_DEBUG=1` makes the engine say which executors go on and why the others are replaced.
fn debug_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("RUNNER_DEBUG").is_some_and(|v| !v.is_empty() && v != "0"))
}

/// Waits until `fd` is readable (a message, or the peer gone) or `deadline` passes; `false` when it
/// passed.
fn readable_by(fd: BorrowedFd<'_>, deadline: Instant) -> io::Result<bool> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        // At most a minute a poll: the timeout's milliseconds must fit an i32.
        let ms = left.as_millis().clamp(1, 60_000) as i32;
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)) {
            Ok(0) => continue,
            Ok(_) => return Ok(true),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn readable(fd: BorrowedFd<'_>) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
}

/// Runs programs in executors forked from a shared zygote, in `fork` or `warm` mode. One per thread.
pub struct EmbeddedEngine {
    config: RunConfig,
    zygotes: Arc<Zygotes>,
    /// The zygote this engine's executors come from.
    zygote: Arc<Zygote>,
    executor: Option<Executor>,
    /// The `CUDA_VISIBLE_DEVICES` the current executor's programs were given.
    executor_device: Option<String>,
    /// The next executor, forked while the current program runs.
    spare: Option<PendingFork>,
}

impl EmbeddedEngine {
    /// An engine for one thread of a run.
    pub fn new(config: RunConfig, zygotes: Arc<Zygotes>) -> Self {
        let zygote = zygotes.current();
        EmbeddedEngine { config, zygotes, zygote, executor: None, executor_device: None, spare: None }
    }

    /// Retires the executor in use: the next program runs in a fresh one.
    pub fn fresh_executor_next(&mut self) {
        self.executor = None;
    }

    /// After the zygote died: this engine's executors went with it; the next ones come from the
    /// zygote that replaces it.
    fn replace_zygote(&mut self) -> Result<(), EngineError> {
        self.executor = None;
        self.spare = None;
        self.zygote = self.zygotes.replace(&self.zygote)?;
        Ok(())
    }

    /// A fresh executor: the spare forked earlier, if any; and the next spare is asked for at once.
    fn fresh_executor(&mut self) -> Result<Executor, EngineError> {
        let pending = match self.spare.take() {
            Some(p) => p,
            None => self.zygote.request_fork()?,
        };
        let executor = pending.wait()?;
        self.spare = Some(self.zygote.request_fork()?);
        Ok(executor)
    }

    fn limits(&self, spec: &ProgramSpec) -> Limits {
        Limits {
            timeout: spec.timeout.or(self.config.timeout),
            max_output: self.config.max_output,
            leak_grace: self.config.leak_grace,
        }
    }

    /// Runs one program and returns what it did. When the engine cannot give the program a result of
    /// its own (runner's code in the executor failed, the program broke the executor's channel), the
    /// program runs again as `python /abs/prog.py`, and that is its result (`Attempt::Fallback`).
    pub fn run(&mut self, spec: &ProgramSpec) -> Result<RunResult, EngineError> {
        let mut zygote_deaths = 0;
        loop {
            match self.run_embedded(spec) {
                // The run is being stopped: what died was killed by runner.
                Err(error) if crate::killed() => return Err(error),
                // A zygote that dies as the run is interrupted (a scheduler's SIGTERM reaches every
                // process of the job) is a casualty of the same termination: the program is not run
                // again (the dispatcher records no result, and `--resume` runs it).
                Err(EngineError::ZygoteDied)
                    if crate::stopping_within(crate::dispatcher::TERMINATION_WINDOW) =>
                {
                    return Err(EngineError::ZygoteDied)
                }
                // The program ran again in an executor of a new zygote; a program that outlives two
                // zygotes gets python's result.
                Err(EngineError::ZygoteDied) if zygote_deaths < 2 => {
                    zygote_deaths += 1;
                    self.replace_zygote()?;
                }
                Err(
                    error @ (EngineError::ExecutorFailed(_)
                    | EngineError::Channel(_)
                    | EngineError::ParentKilled
                    | EngineError::ZygoteDied
                    | EngineError::ForkFailed(_)),
                ) => return self.fallback(spec, error),
                other => return other,
            }
        }
    }

    /// The subprocess fallback: `python /abs/prog.py` gives the program its result.
    fn fallback(&mut self, spec: &ProgramSpec, error: EngineError) -> Result<RunResult, EngineError> {
        let failure = error.failure();
        if debug_enabled() {
            eprintln!(
                "runner: debug: {}: the embedded engine gave no result ({failure}); running it as python {}",
                spec.path.display(),
                spec.path.display()
            );
        }
        let mut result = crate::SubprocessEngine::new(self.config.clone()).run(spec)?;
        result.attempts.push(Attempt::Fallback { from: self.config.mode, failure });
        Ok(result)
    }

    fn run_embedded(&mut self, spec: &ProgramSpec) -> Result<RunResult, EngineError> {
        let limits = self.limits(spec);
        match self.config.mode {
            Mode::Fork => {
                let mut ex = self.fresh_executor()?;
                let outcome = ex.run(spec, limits, true)?;
                let mut result = crate::result_from(spec, Mode::Fork, outcome);
                result.program_time = ex.program_time;
                Ok(result)
            }
            _ => {
                let fresh = self.executor.as_ref().is_none_or(|e| e.programs() == 0);
                let first = match self.run_warm(spec, limits) {
                    // The executor's own code failed after other programs ran in it: their leftovers
                    // may be the cause, so the program gets a fresh executor, as a failure does.
                    Err(EngineError::ExecutorFailed(_)) if !fresh => {
                        self.executor = None;
                        return self.run_warm(spec, limits);
                    }
                    first => first?,
                };
                if first.success || fresh {
                    return Ok(first);
                }
                // A failure after other programs ran in this executor may be their leftovers: confirm it
                // in a fresh executor before reporting it.
                self.executor = None;
                let mut second = self.run_warm(spec, limits)?;
                let reproduced = second.returncode == first.returncode
                    && second.stdout == first.stdout
                    && second.stderr == first.stderr;
                let result = (!reproduced).then(|| Box::new(first));
                second.attempts.insert(0, Attempt::WarmExecutor { reproduced, result });
                Ok(second)
            }
        }
    }

    fn run_warm(&mut self, spec: &ProgramSpec, limits: Limits) -> Result<RunResult, EngineError> {
        // CUDA reads CUDA_VISIBLE_DEVICES once, when a program first uses it, and keeps it for the
        // life of the process: an executor whose programs had one device cannot give another one
        // to the next program (a server's requests each get a device of their own; a batch's
        // worker keeps one).
        let device = spec.device();
        let spent = |e: &Executor| {
            !e.alive()
                || self.config.max_programs_per_executor.is_some_and(|max| e.programs() >= max)
                || (e.programs() > 0 && self.executor_device.as_deref() != device)
        };
        if self.executor.as_ref().is_none_or(spent) {
            self.executor = None;
            self.executor = Some(self.fresh_executor()?);
        }
        self.executor_device = device.map(String::from);
        let ex = self.executor.as_mut().expect("executor just ensured");
        let outcome = ex.run(spec, limits, false)?;
        let program_time = ex.program_time;
        if !ex.alive() {
            self.executor = None;
        }
        let mut result = crate::result_from(spec, Mode::Warm, outcome);
        result.program_time = program_time;
        Ok(result)
    }
}
