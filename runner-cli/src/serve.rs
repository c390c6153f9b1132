//! `runner serve`: the batch's engines kept warm behind a Unix socket, for callers that run one
//! program at a time (torchfuzz's `ProgramRunner.run_program` in a loop, `runner run --server`, the
//! `runner_client` Python package). The engines and the workers are the batch's: [`Engines::prepare`]
//! once, and the dispatcher's [`dispatcher::run_stream`] taking the requests as they come. What lives
//! here is front-end work, which is why it is in the CLI and not in runner-embed: the socket, the
//! clients, the device policy applied per request, the `-o` records and the log lines.
//!
//! Threads: an acceptor (the listening socket, and a wake-up socket that stops it), one thread per
//! client connection (reads a request, turns it into a job, waits for its answer, writes the
//! response), the dispatcher's workers, and the main thread, which consumes the dispatcher's events:
//! it answers each request from its program's event, writes the records and, at the first Ctrl-C or
//! SIGTERM, stops the intake and the acceptor, removes the socket and answers the requests no worker
//! took. Running programs get `--interrupt-grace`, then are killed; their clients get an error.
//!
//! A client that disconnects while its program runs does not stop it: the program runs to its end
//! (or its timeout), its record is written, and the answer is dropped. The engine has no way to kill
//! one program alone, and a program half run is worse for a campaign than one run whole.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use serde::Serialize;
use serde_json::Value;

use runner_core::classify::{classify, signature, IgnorePatterns};
use runner_core::device::{self, CUDA_VISIBLE_DEVICES};
use runner_core::{DevicePolicy, Mode, ProgramSpec, Purpose, RunResult};
use runner_embed::dispatcher::{self, Cancel, CancelReason, Event, Job};
use runner_embed::Engines;

use crate::cli::ServeCmd;
use crate::error::CliError;
use crate::exit_code;
use crate::reporter::{EngineFailedRecord, JsonlFile, Record};
use crate::serve_protocol::{ErrorKind, Hello, Request, Response, ServeError, PROTOCOL, VERSION};
use crate::settings::{self, SettingsError};

/// How many events may wait for the main thread, per worker (as in a batch).
const EVENTS_PER_WORKER: usize = 2;

/// How long the workers may take to come back after their programs were killed before the server
/// ends without them (as in a batch).
const ABANDON_AFTER: Duration = Duration::from_secs(5);

/// How long, at the end, the server waits for its client threads to write the answers they have:
/// a client that does not read its answer must not keep the server from exiting.
const ANSWERS_FLUSH: Duration = Duration::from_secs(5);

/// The backlog of the listening socket: clients that connect at once wait here for the acceptor.
const BACKLOG: i32 = 128;

/// Runs the serve command; returns the exit code (130: it ends only when interrupted).
pub fn execute(cmd: ServeCmd) -> Result<i32, CliError> {
    let config = settings::run_config(&cmd.flags)?;
    let workers = settings::workers(cmd.workers, "--workers")?
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let grace = settings::seconds(cmd.interrupt_grace, "--interrupt-grace")?;
    let pinned: Option<Vec<String>> = cmd
        .devices
        .as_deref()
        .map(|list| list.split(',').map(str::trim).filter(|d| !d.is_empty()).map(String::from).collect());
    // Pinned workers get their device from the dispatcher, as a batch's do; otherwise each request
    // gets one from the device policy, as `runner run` would.
    let devices: Vec<Option<String>> = match &pinned {
        Some(list) => {
            (0..workers).map(|i| (!list.is_empty()).then(|| list[i % list.len()].clone())).collect()
        }
        None => vec![None; workers],
    };
    // A live server is refused before anything starts (its -o file is not touched); a stale socket
    // is removed.
    claim(&cmd.socket)?;
    let results = match &cmd.output {
        Some(path) => {
            let file = File::create(path)
                .map_err(|source| SettingsError::Unwritable { path: path.clone(), source })?;
            let what = format!("the results file {}", path.display());
            Some(JsonlFile::new(Arc::new(Mutex::new(file)), what, 0))
        }
        None => None,
    };

    let engines = Engines::prepare(config.clone())?;
    if let Some(warning) = engines.fallback_warning() {
        eprintln!("runner: warning: {warning}");
    }
    let socket = Socket::listen(&cmd.socket)?;
    let verbose = cmd.verbose || debug_env();
    let hello = Hello {
        protocol: PROTOCOL.into(),
        version: VERSION,
        runner: env!("CARGO_PKG_VERSION").into(),
        mode: engines.mode(),
        workers,
        pid: std::process::id(),
    };
    let mut hello = serde_json::to_vec(&hello).map_err(std::io::Error::from)?;
    hello.push(b'\n');
    let (intake, jobs) = crossbeam_channel::unbounded::<Job>();
    let shared = Arc::new(Shared {
        intake: Mutex::new(Some(intake)),
        pending: Mutex::new(HashMap::new()),
        next_index: AtomicUsize::new(0),
        answering: (Mutex::new(0), Condvar::new()),
        devices: DeviceChoice {
            pinned: pinned.is_some(),
            gpus: if pinned.is_some() { 0 } else { device::count_gpus() },
            skip_primary: cmd.skip_primary_device,
            seed: config.seed,
        },
        hello,
        verbose,
    });

    let cancel = Cancel::default();
    let (events_tx, events) = crossbeam_channel::bounded(EVENTS_PER_WORKER * workers);
    let results_lock = results.as_ref().map(JsonlFile::shared);
    let abandon_socket = socket.owned();
    let abandon = move || {
        let _guard = results_lock.as_ref().map(|f| f.lock().unwrap_or_else(|e| e.into_inner()));
        abandon_socket.remove();
        let _ = std::io::stderr().write_all(b"\nrunner: the engine did not stop after the kill; exiting\n");
        std::process::exit(exit_code::INTERRUPTED);
    };
    if let Err(e) = cancel.on_interrupt(grace, events_tx.clone(), ABANDON_AFTER, abandon) {
        eprintln!("runner: warning: cannot install the Ctrl-C handler: {e}");
    }

    // The one line a starter waits for (runner_client.Server reads it): the server takes requests.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "runner serve: listening on {} ({} mode, {workers} workers)",
        cmd.socket.display(),
        engines.mode()
    );
    let _ = out.flush();

    let (wake, woken) = UnixStream::pair()?;
    let mut router = Router { shared: &shared, results, mode: engines.mode(), started: HashMap::new() };
    std::thread::scope(|scope| {
        let acceptor = {
            let shared = Arc::clone(&shared);
            let listener = &socket.listener;
            std::thread::Builder::new()
                .name("acceptor".into())
                .spawn_scoped(scope, move || accept_clients(listener, &woken, &shared))
                .expect("spawn the acceptor thread")
        };
        let (engines, devices, cancel) = (&engines, &devices, &cancel);
        let stream = jobs.clone();
        scope.spawn(move || dispatcher::run_stream(engines, stream, devices, cancel, events_tx));
        let mut wake = Some(wake);
        for event in &events {
            match event {
                Event::RunCancelled { reason: CancelReason::Interrupt, grace } => {
                    if !cmd.quiet {
                        eprintln!(
                            "runner serve: interrupted: no new programs; running ones get {}s (a second Ctrl-C or SIGTERM kills them now)",
                            grace.unwrap_or_default().as_secs_f64()
                        );
                    }
                    // No new connection, no new job; the jobs no worker took are answered now.
                    drop(wake.take());
                    socket.owned().remove();
                    router.stop_intake(&jobs);
                }
                Event::RunKilled if !cmd.quiet => eprintln!("runner serve: killing running programs"),
                Event::RunKilled => {}
                Event::RunFinished { .. } => break,
                event => router.handle(event),
            }
        }
        drop(wake);
        let _ = acceptor.join();
    });
    router.stop_intake(&jobs);
    router.answer_the_rest();
    socket.owned().remove();
    shared.wait_for_answers(ANSWERS_FLUSH);
    Ok(exit_code::INTERRUPTED)
}

/// Whether RUNNER_DEBUG asks for the engine's debug lines (and so the server's log too).
fn debug_env() -> bool {
    std::env::var_os("RUNNER_DEBUG").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Makes `path` free for a new server: nothing there, or a stale socket (no one listens: it is
/// removed). A live server's socket, or a file that is not a socket, is refused.
fn claim(path: &Path) -> Result<(), SettingsError> {
    let refuse = |reason: String| SettingsError::BadValue { flag: "--socket", reason };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(refuse(format!("cannot inspect {}: {e}", path.display()))),
        Ok(meta) if !meta.file_type().is_socket() => {
            Err(refuse(format!("{} exists and is not a socket; not replacing it", path.display())))
        }
        Ok(_) => match UnixStream::connect(path) {
            Ok(_) => Err(refuse(format!("a server is already listening on {}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => std::fs::remove_file(path)
                .map_err(|e| refuse(format!("cannot remove the stale socket {}: {e}", path.display()))),
            Err(e) => Err(refuse(format!("cannot tell whether {} is in use: {e}", path.display()))),
        },
    }
}

/// The listening socket and the file it made.
struct Socket {
    listener: UnixListener,
    file: OwnedSocketFile,
}

/// The socket file this server made, removed only while it is still that file (a later server may
/// have replaced it).
#[derive(Clone)]
struct OwnedSocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl OwnedSocketFile {
    fn remove(&self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Socket {
    /// Binds `path` (never over an existing file), makes it 0600 and only then listens, so that no
    /// one else can connect in between.
    fn listen(path: &Path) -> Result<Socket, SettingsError> {
        use nix::sys::socket::{bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
        let fail = |what: &str, e: &dyn std::fmt::Display| SettingsError::BadValue {
            flag: "--socket",
            reason: format!("cannot {what} {}: {e}", path.display()),
        };
        let fd = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
            .map_err(|e| fail("make a socket for", &e))?;
        let addr = UnixAddr::new(path).map_err(|e| fail("use", &e))?;
        bind(fd.as_raw_fd(), &addr).map_err(|e| match e {
            nix::errno::Errno::EADDRINUSE => SettingsError::BadValue {
                flag: "--socket",
                reason: format!("{} was taken by another process as this server started", path.display()),
            },
            e => fail("bind", &e),
        })?;
        let meta = std::fs::symlink_metadata(path).map_err(|e| fail("inspect", &e))?;
        let file = OwnedSocketFile { path: path.to_path_buf(), dev: meta.dev(), ino: meta.ino() };
        let listening = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| fail("set the mode of", &e))
            .and_then(|()| {
                let backlog = Backlog::new(BACKLOG).map_err(|e| fail("listen on", &e))?;
                listen(&fd, backlog).map_err(|e| fail("listen on", &e))
            });
        if let Err(e) = listening {
            file.remove();
            return Err(e);
        }
        Ok(Socket { listener: UnixListener::from(fd), file })
    }

    /// The socket file, for removing it.
    fn owned(&self) -> OwnedSocketFile {
        self.file.clone()
    }
}

/// Accepts clients until `woken` is readable (its other end was dropped), each on a thread of its
/// own.
fn accept_clients(listener: &UnixListener, woken: &UnixStream, shared: &Arc<Shared>) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let clients = AtomicUsize::new(0);
    loop {
        let mut fds =
            [PollFd::new(listener.as_fd(), PollFlags::POLLIN), PollFd::new(woken.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                eprintln!("runner serve: error: waiting for clients: {e}; no new clients are taken");
                return;
            }
        }
        if fds[1].any().unwrap_or(true) {
            return;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                let client = clients.fetch_add(1, Ordering::Relaxed) + 1;
                let shared = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name(format!("client-{client}"))
                    .spawn(move || serve_connection(&shared, stream, client));
                if let Err(e) = spawned {
                    eprintln!("runner serve: error: cannot start a thread for a client: {e}");
                }
            }
            // A client that gave up before it was accepted, or a full descriptor table: the next
            // poll says when to try again.
            Err(e) => {
                if shared.verbose {
                    eprintln!("runner serve: accepting a client failed: {e}");
                }
                if e.raw_os_error() == Some(nix::errno::Errno::EMFILE as i32) {
                    // Nothing can be accepted until a descriptor is closed: do not spin.
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

/// One client: the hello, then request after request, each answered before the next is read.
fn serve_connection(shared: &Shared, stream: UnixStream, client: usize) {
    let Ok(mut writer) = stream.try_clone() else { return };
    if writer.write_all(&shared.hello).is_err() {
        return;
    }
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let _answering = shared.answering();
        let response = shared.handle(&line, client);
        let mut bytes = match serde_json::to_vec(&response) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("runner serve: error: cannot write a response as JSON: {e}");
                return;
            }
        };
        bytes.push(b'\n');
        if let Err(e) = writer.write_all(&bytes) {
            if shared.verbose {
                eprintln!("runner serve: client {client} went away before its answer ({e})");
            }
            return;
        }
        if line.capacity() > 1 << 20 {
            line = Vec::new();
        }
    }
}

/// The answer a request waits for.
type Answer = Result<Box<RunResult>, ServeError>;

/// A request whose program was handed to the workers.
struct Pending {
    reply: Sender<Answer>,
    client: usize,
}

/// How each request gets its device.
struct DeviceChoice {
    /// `--devices`: the workers are pinned; requests choose nothing.
    pinned: bool,
    /// The GPUs counted at start (only when not pinned).
    gpus: usize,
    /// `--skip-primary-device`: every request follows run_and_validate's rule.
    skip_primary: bool,
    /// `--seed`: each request's choice is seeded from it and the request's number.
    seed: Option<u64>,
}

impl DeviceChoice {
    /// The device for `request` (the `index`-th), by the device policy from the client's
    /// `CUDA_VISIBLE_DEVICES`, as `runner run` / `runner validate` would choose it there.
    fn choose(&self, request: &Request, index: usize) -> Option<String> {
        if self.pinned {
            return None;
        }
        let purpose = if self.skip_primary { Purpose::Validate } else { request.purpose.into() };
        let seed = request.seed.or(self.seed.map(|s| s.wrapping_add(index as u64)));
        DevicePolicy::new(request.cuda_visible_devices.as_deref(), self.gpus, purpose, seed).pick()
    }
}

/// What the client threads and the main thread share.
struct Shared {
    /// Where requests become jobs; `None` once the server stops taking them.
    intake: Mutex<Option<Sender<Job>>>,
    pending: Mutex<HashMap<usize, Pending>>,
    next_index: AtomicUsize,
    /// How many requests are being answered (taken and not yet written back), and its signal.
    answering: (Mutex<usize>, Condvar),
    devices: DeviceChoice,
    /// The hello line.
    hello: Vec<u8>,
    verbose: bool,
}

/// Counts a request as being answered until dropped.
struct Answering<'a>(&'a Shared);

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        let (count, changed) = &self.0.answering;
        *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        changed.notify_all();
    }
}

impl Shared {
    fn answering(&self) -> Answering<'_> {
        *self.answering.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Answering(self)
    }

    /// Waits until every request taken has been answered, for at most `limit`.
    fn wait_for_answers(&self, limit: Duration) {
        let (count, changed) = &self.answering;
        let count = count.lock().unwrap_or_else(|e| e.into_inner());
        let _ = changed.wait_timeout_while(count, limit, |n| *n > 0);
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The response to one request line.
    fn handle(&self, line: &[u8], client: usize) -> Response {
        let request: Request = match serde_json::from_slice(line) {
            Ok(request) => request,
            Err(e) => {
                let error = ServeError::new(ErrorKind::BadRequest, format!("not a request: {e}"));
                return Response { id: Value::Null, result: None, error: Some(error) };
            }
        };
        let id = request.id.clone();
        match self.run(request, client) {
            Ok(result) => Response { id, result: Some(*result), error: None },
            Err(error) => Response { id, result: None, error: Some(error) },
        }
    }

    /// Hands the request's program to the workers and waits for its answer.
    fn run(&self, request: Request, client: usize) -> Answer {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        let spec = self.spec(request, index)?;
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.pending().insert(index, Pending { reply, client });
        let taken = match &*self.intake.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(intake) => intake.send(Job { index, spec }).is_ok(),
            None => false,
        };
        if !taken {
            self.pending().remove(&index);
            return Err(not_run());
        }
        answer.recv().unwrap_or_else(|_| Err(not_run()))
    }

    /// The job of a request, checked.
    fn spec(&self, request: Request, index: usize) -> Result<ProgramSpec, ServeError> {
        let bad = |message: String| ServeError::new(ErrorKind::BadRequest, message);
        if let Some(version) = request.version.filter(|v| *v != VERSION) {
            return Err(bad(format!(
                "protocol version {version} is not spoken here (this server: {VERSION})"
            )));
        }
        if !request.program.is_absolute() {
            return Err(bad(format!("the program path must be absolute: {}", request.program.display())));
        }
        let timeout = request
            .timeout
            .map(|secs| settings::positive_seconds(secs, "timeout"))
            .transpose()
            .map_err(|e| bad(e.to_string()))?;
        let device = match request.env.get(CUDA_VISIBLE_DEVICES) {
            // A device the client gave outright is the program's.
            Some(_) => None,
            None => self.devices.choose(&request, index),
        };
        let mut spec = ProgramSpec::new(request.program);
        spec.args = request.args;
        spec.env = request.env.into_iter().collect();
        spec.timeout = timeout;
        if let Some(dev) = device {
            spec.env.push((CUDA_VISIBLE_DEVICES.to_string(), dev));
        }
        Ok(spec)
    }
}

/// The error of a request the server stopped before running.
fn not_run() -> ServeError {
    ServeError::new(ErrorKind::ShuttingDown, "the server is stopping: the program was not run")
}

/// The main thread's side: answers requests from their programs' events and writes the records.
struct Router<'a> {
    shared: &'a Shared,
    results: Option<JsonlFile>,
    mode: Mode,
    /// The requests whose program a worker started: the worker, and when.
    started: HashMap<usize, (usize, f64)>,
}

impl Router<'_> {
    fn handle(&mut self, event: Event) {
        match event {
            Event::ProgramStarted { index, worker } => {
                self.started.insert(index, (worker, crate::reporter::now_epoch()));
            }
            Event::ProgramFinished { index, worker, result } => {
                let status = classify(&result, &IgnorePatterns::default());
                let sig = status.is_failure().then(|| signature(&result));
                let started_at = self.started.get(&index).map(|s| s.1);
                self.write(&Record {
                    result: &result,
                    index,
                    worker,
                    status,
                    started_at,
                    signature: sig.as_deref(),
                    ignored_by: None,
                    known_issue: None,
                    reproduce: None,
                    shard: None,
                });
                let told = self.shared.verbose.then(|| {
                    let (program, outcome) = (result.program.display(), result.outcome());
                    format!(
                        "{program}: {outcome} in {:.3}s ({}, worker {worker})",
                        result.duration, result.mode
                    )
                });
                self.answer(index, told, Ok(result));
            }
            Event::EngineFailed { index, worker, program, failure, duration } => {
                let started_at = self.started.get(&index).map(|s| s.1);
                self.write(&EngineFailedRecord {
                    success: false,
                    program: &program,
                    mode: self.mode,
                    duration,
                    index,
                    worker,
                    status: crate::reporter::ENGINE_FAILED,
                    started_at,
                    engine_failure: &failure,
                    shard: None,
                });
                let told = self.shared.verbose.then(|| {
                    format!(
                        "{}: engine failed ({failure}) after {duration:.3}s (worker {worker})",
                        program.display()
                    )
                });
                let error = ServeError {
                    kind: ErrorKind::EngineFailed,
                    message: format!("the engine could not run the program: {failure}"),
                    engine_failure: Some(failure),
                };
                self.answer(index, told, Err(error));
            }
            Event::ProgramCancelled { index, program, .. } => {
                let error = if self.started.contains_key(&index) {
                    ServeError::new(
                        ErrorKind::ShuttingDown,
                        "the server is stopping: the program was killed when the interrupt's grace ended",
                    )
                } else {
                    not_run()
                };
                let told = self.shared.verbose.then(|| format!("{}: cancelled", program.display()));
                self.answer(index, told, Err(error));
            }
            _ => {}
        }
    }

    /// Sends `answer` to the request's client, and says so (`told`, made with `-v` only).
    fn answer(&mut self, index: usize, told: Option<String>, answer: Answer) {
        self.started.remove(&index);
        let Some(pending) = self.shared.pending().remove(&index) else { return };
        if let Some(told) = told {
            eprintln!("runner serve: client {}: {told}", pending.client);
        }
        // The client thread may be gone (its thread failed): nothing to tell then.
        let _ = pending.reply.send(answer);
    }

    /// Stops taking requests and answers the jobs no worker took.
    fn stop_intake(&mut self, jobs: &Receiver<Job>) {
        drop(self.shared.intake.lock().unwrap_or_else(|e| e.into_inner()).take());
        for job in jobs.try_iter() {
            let told = self.shared.verbose.then(|| format!("{}: not run", job.spec.path.display()));
            self.answer(job.index, told, Err(not_run()));
        }
    }

    /// Answers every request still waiting (the workers are gone).
    fn answer_the_rest(&mut self) {
        let left: Vec<(usize, Pending)> = self.shared.pending().drain().collect();
        for (_, pending) in left {
            let _ = pending.reply.send(Err(not_run()));
        }
    }

    /// Writes one record to `-o`.
    fn write(&mut self, record: &impl Serialize) {
        let Some(results) = self.results.as_mut() else { return };
        match serde_json::to_vec(record) {
            Ok(mut line) => {
                line.push(b'\n');
                if let Some(told) = results.write_line(&line) {
                    eprintln!("runner: error: {told}");
                }
            }
            Err(e) => eprintln!("runner: error: cannot write a result as JSON: {e}"),
        }
    }
}
