//! Running many programs on parallel workers, and everything that decides when to stop. One
//! supervisor thread per worker drives that worker's engine (and so its executor); the programs wait
//! in a crossbeam channel; what happens is sent as typed [`Event`]s, which the front end's sinks
//! consume (progress, JSONL, JUnit, summary). This module decides nothing about output. [`run`]
//! takes a batch's jobs from an iterator of known size; [`run_stream`] takes a server's requests
//! (`runner serve`) from a channel as they come.
//!
//! The dispatcher owns cancellation: `--fail-fast` (decided here alone, in the worker that sees the
//! failure, so no worker takes another program once it holds), and interrupts ([`Cancel`]: the first
//! Ctrl-C or SIGTERM stops scheduling and gives running programs a grace; the second, or the grace's
//! end, kills them). A program killed by a cancellation has no result of its own: it is reported as
//! [`Event::ProgramCancelled`], never as a crash, so `--resume` runs it again. So is one that a
//! scheduler's termination killed: Slurm (at a time limit, a preemption, `scancel`) and a machine's
//! shutdown send SIGTERM to every process of the job, runner's programs and its engine's processes
//! included, not only to runner; a program that ends by SIGTERM or SIGKILL, or whose engine died,
//! around runner's own interrupt is a casualty of it ([`TERMINATION_WINDOW`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};

use runner_core::device::CUDA_VISIBLE_DEVICES;
use runner_core::{EngineFailure, Mode, ProgramSpec, RunResult};

use crate::Engines;

/// One program of a batch.
#[derive(Clone, Debug)]
pub struct Job {
    /// Position of the program in the sorted input list.
    pub index: usize,
    /// What to run.
    pub spec: ProgramSpec,
}

/// Why a run stopped before every program ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// `--fail-fast` and a program failed (or could not be run).
    FailFast,
    /// Ctrl-C or SIGTERM.
    Interrupt,
}

/// What happened, as it happens.
#[derive(Debug)]
pub enum Event {
    /// The run begins.
    RunStarted {
        /// Programs to run.
        programs: usize,
        /// Parallel workers.
        workers: usize,
        /// The mode they run in.
        mode: Mode,
    },
    /// A worker took a program.
    ProgramStarted {
        /// Position of the program in the input list.
        index: usize,
        /// The worker.
        worker: usize,
    },
    /// A program ended with a result.
    ProgramFinished {
        /// Position of the program in the input list.
        index: usize,
        /// The worker that ran it.
        worker: usize,
        /// What it did.
        result: Box<RunResult>,
    },
    /// The engine could not run a program to a result (the zygote died, a fork failed, the
    /// executor's own code failed): not the program's result.
    EngineFailed {
        /// Position of the program in the input list.
        index: usize,
        /// The worker that took it.
        worker: usize,
        /// The program.
        program: PathBuf,
        /// What failed.
        failure: EngineFailure,
        /// Seconds from taking the program to the failure.
        duration: f64,
    },
    /// A running program was killed by a cancellation: it has no result.
    ProgramCancelled {
        /// Position of the program in the input list.
        index: usize,
        /// The worker that ran it.
        worker: usize,
        /// The program.
        program: PathBuf,
    },
    /// Scheduling stopped; running programs go on for `grace` (for an interrupt).
    RunCancelled {
        /// Why.
        reason: CancelReason,
        /// How long running programs may go on before they are killed (`None`: to their end).
        grace: Option<Duration>,
    },
    /// A second interrupt: running programs are killed now.
    RunKilled,
    /// Every worker has stopped.
    RunFinished {
        /// Why the run stopped early, if it did.
        cancelled: Option<CancelReason>,
    },
}

/// How long a result that a termination signal could have caused (the program ended by SIGTERM or
/// SIGKILL, or its engine died) waits for runner's own interrupt before it counts as the program's
/// result. A scheduler signals every process of the job at once, and the program's end can reach a
/// worker before the signal handler has run (it runs on a thread of its own); a result that comes
/// with the interrupt, before or after it, is not the program's doing, and `--resume` runs the
/// program again. Outside an interrupt this only delays such results.
pub const TERMINATION_WINDOW: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
struct CancelState {
    reason: Mutex<Option<CancelReason>>,
    /// Signalled (under `reason`'s lock) when an interrupt comes.
    interrupt_came: Condvar,
    /// Running programs were killed (the grace ended, a second interrupt).
    killed: AtomicBool,
    interrupts: AtomicUsize,
}

/// The run's cancellation switch, shared by the workers, the signal handler and the front end.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<CancelState>);

impl Cancel {
    /// Stops scheduling (the first reason given is the one kept); returns whether this call did it.
    pub fn cancel(&self, reason: CancelReason) -> bool {
        let mut r = self.0.reason.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_some() {
            return false;
        }
        *r = Some(reason);
        true
    }

    /// Why the run was cancelled, if it was.
    pub fn reason(&self) -> Option<CancelReason> {
        *self.0.reason.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether scheduling has stopped.
    pub fn is_cancelled(&self) -> bool {
        self.reason().is_some()
    }

    /// Kills every running program (and the engines' processes); they come back as cancelled.
    pub fn kill_running(&self) {
        self.0.killed.store(true, Ordering::SeqCst);
        crate::kill_everything();
    }

    fn killed(&self) -> bool {
        self.0.killed.load(Ordering::SeqCst)
    }

    /// Whether an interrupt (Ctrl-C, SIGTERM) came.
    pub fn interrupted(&self) -> bool {
        self.0.interrupts.load(Ordering::SeqCst) > 0
    }

    /// Whether an interrupt came, or comes within `window`.
    fn interrupted_within(&self, window: Duration) -> bool {
        let deadline = Instant::now() + window;
        let mut guard = self.0.reason.lock().unwrap_or_else(|e| e.into_inner());
        while !self.interrupted() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = self.0.interrupt_came.wait_timeout(guard, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    /// Counts an interrupt and wakes whoever waits for one; returns whether it is the first.
    fn note_interrupt(&self) -> bool {
        let first = self.0.interrupts.fetch_add(1, Ordering::SeqCst) == 0;
        crate::note_stopping();
        let _guard = self.0.reason.lock().unwrap_or_else(|e| e.into_inner());
        self.0.interrupt_came.notify_all();
        first
    }

    /// Installs the interrupt policy for SIGINT and SIGTERM: the first cancels the run and kills the
    /// running programs after `grace`; the second kills them at once. `events` hears of both. If
    /// the workers have not come back `abandon_after` a kill, `abandon` is called (it should end
    /// the process, never in the middle of a results line).
    pub fn on_interrupt(
        &self,
        grace: Duration,
        events: Sender<Event>,
        abandon_after: Duration,
        abandon: impl Fn() + Send + Sync + 'static,
    ) -> Result<(), ctrlc::Error> {
        let cancel = self.clone();
        let abandon = Arc::new(abandon);
        let kill = move |cancel: &Cancel| {
            cancel.kill_running();
            let abandon = Arc::clone(&abandon);
            std::thread::spawn(move || {
                std::thread::sleep(abandon_after);
                abandon();
            });
        };
        ctrlc::set_handler(move || {
            if cancel.note_interrupt() {
                // Fail-fast may have cancelled already; the interrupt still gets its grace.
                cancel.cancel(CancelReason::Interrupt);
                let _ =
                    events.send(Event::RunCancelled { reason: CancelReason::Interrupt, grace: Some(grace) });
                let cancel = cancel.clone();
                let kill = kill.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(grace);
                    if !cancel.killed() {
                        kill(&cancel);
                    }
                });
                return;
            }
            let _ = events.send(Event::RunKilled);
            kill(&cancel);
        })
    }
}

/// A predicate on results that cancels the run (`--fail-fast`); an engine failure cancels such a run
/// too.
pub type StopWhen<'a> = &'a (dyn Fn(&RunResult) -> bool + Sync);

/// `--retries`: a result for which `when` holds (a failure, not an ignored one, maybe only those
/// matching `--retry-on`) is run again, in a fresh executor, up to `times` times, until a run passes;
/// every failed run is kept in the result (`RunResult::retries`).
#[derive(Clone, Copy)]
pub struct Retry<'a> {
    /// The most runs after the first.
    pub times: u32,
    /// Whether a result is to be run again.
    pub when: &'a (dyn Fn(&RunResult) -> bool + Sync),
}

/// Runs `jobs` on `devices.len()` workers (worker `i` pinned to `devices[i]`, `None` for no device)
/// and sends events until every job ran or the run was cancelled; the last event is
/// [`Event::RunFinished`]. With one worker, jobs run in the given order. Jobs are taken from the
/// iterator only as workers come to them (a few ahead of each), so a batch of a million programs
/// never holds a million jobs.
pub fn run(
    engines: &Engines,
    jobs: impl IntoIterator<Item = Job, IntoIter: ExactSizeIterator + Send>,
    devices: &[Option<String>],
    cancel: &Cancel,
    stop_when: Option<StopWhen<'_>>,
    retry: Option<Retry<'_>>,
    events: Sender<Event>,
) {
    let jobs = jobs.into_iter();
    let _ =
        events.send(Event::RunStarted { programs: jobs.len(), workers: devices.len(), mode: engines.mode() });
    let (tx, rx) = bounded::<Job>(2 * devices.len().max(1));
    std::thread::scope(|scope| {
        // The feeder ends when every job is queued, or when every worker has stopped taking them
        // (a cancelled run): its send then fails.
        scope.spawn(move || {
            for job in jobs {
                if tx.send(job).is_err() {
                    break;
                }
            }
        });
        let shared = Shared { engines, cancel, stop_when, retry, taken_late: TakenLate::Run };
        spawn_workers(scope, &shared, &rx, devices, &events);
        // Only the workers hold the queue now: when they have all stopped, the feeder's send fails.
        drop(rx);
    });
    let _ = events.send(Event::RunFinished { cancelled: cancel.reason() });
}

/// Runs `spec`, and again in a fresh executor while `retry` says so (and the run goes on).
fn run_with_retries(
    engine: &mut crate::Engine,
    spec: &runner_core::ProgramSpec,
    retry: Option<Retry<'_>>,
    cancel: &Cancel,
) -> Result<RunResult, crate::EngineError> {
    let mut result = engine.run(spec)?;
    let Some(retry) = retry else { return Ok(result) };
    let mut failed = Vec::new();
    while failed.len() < retry.times as usize && !cancel.is_cancelled() && (retry.when)(&result) {
        engine.fresh_executor_next();
        let again = engine.run(spec)?;
        failed.push(std::mem::replace(&mut result, again));
    }
    result.attempts.extend(failed.into_iter().map(|r| runner_core::Attempt::Retry { result: Box::new(r) }));
    Ok(result)
}

/// Runs jobs as they arrive on `jobs` (a server's requests: there is no list and no size) on
/// `devices.len()` workers, until the channel is closed and empty or the run is cancelled; the last
/// event is [`Event::RunFinished`], and no [`Event::RunStarted`] comes first. Nothing is taken
/// ahead: each worker takes its next job from `jobs` itself when it is free, so a job waits only for
/// a free worker, and a job no worker took is still the caller's (on cancellation, the caller
/// answers what is left in the channel). A job a worker takes after the run was cancelled is not
/// run: it is reported as [`Event::ProgramCancelled`], so that every job taken has one event.
/// The caller closes the channel (drops every sender) to end the run: a worker waiting for a job
/// waits until then.
pub fn run_stream(
    engines: &Engines,
    jobs: Receiver<Job>,
    devices: &[Option<String>],
    cancel: &Cancel,
    events: Sender<Event>,
) {
    std::thread::scope(|scope| {
        let shared =
            Shared { engines, cancel, stop_when: None, retry: None, taken_late: TakenLate::Reported };
        spawn_workers(scope, &shared, &jobs, devices, &events);
    });
    let _ = events.send(Event::RunFinished { cancelled: cancel.reason() });
}

/// What a worker does with a job it took after the run was cancelled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TakenLate {
    /// Run it (a batch: the job was queued before the cancellation).
    Run,
    /// Do not run it, and say so with [`Event::ProgramCancelled`] (a stream: someone waits for it).
    Reported,
}

/// What every worker of a run shares.
struct Shared<'a> {
    engines: &'a Engines,
    cancel: &'a Cancel,
    stop_when: Option<StopWhen<'a>>,
    retry: Option<Retry<'a>>,
    taken_late: TakenLate,
}

/// Starts one worker thread per device in `scope`, each with its engine, taking jobs from `rx`.
fn spawn_workers<'scope, 'env: 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    shared: &Shared<'env>,
    rx: &Receiver<Job>,
    devices: &'env [Option<String>],
    events: &Sender<Event>,
) {
    for (worker, device) in devices.iter().enumerate() {
        let rx = rx.clone();
        let events = events.clone();
        let mut engine = shared.engines.engine();
        let cancel = shared.cancel.clone();
        let (stop_when, retry, taken_late) = (shared.stop_when, shared.retry, shared.taken_late);
        std::thread::Builder::new()
            .name(format!("worker-{worker}"))
            .spawn_scoped(scope, move || {
                while !cancel.is_cancelled() {
                    let Ok(mut job) = rx.recv() else { break };
                    if taken_late == TakenLate::Reported && cancel.is_cancelled() {
                        let (index, program) = (job.index, job.spec.path);
                        let _ = events.send(Event::ProgramCancelled { index, worker, program });
                        break;
                    }
                    if let Some(dev) = device {
                        job.spec.env.retain(|(k, _)| k != CUDA_VISIBLE_DEVICES);
                        job.spec.env.push((CUDA_VISIBLE_DEVICES.to_string(), dev.clone()));
                    }
                    let _ = events.send(Event::ProgramStarted { index: job.index, worker });
                    let started = Instant::now();
                    let ran = run_with_retries(&mut engine, &job.spec, retry, &cancel);
                    let (index, program) = (job.index, job.spec.path);
                    // What ends by runner's kill during a cancellation is not the program's result,
                    // nor what ends by the termination that interrupted runner.
                    let killed_by_us = match &ran {
                        Ok(r) if r.timed_out => false,
                        Ok(r) if r.returncode == -libc::SIGKILL => {
                            cancel.killed() || cancel.interrupted_within(TERMINATION_WINDOW)
                        }
                        Ok(r) if r.returncode == -libc::SIGTERM => {
                            cancel.interrupted_within(TERMINATION_WINDOW)
                        }
                        Ok(_) => false,
                        Err(_) => cancel.killed() || cancel.interrupted_within(TERMINATION_WINDOW),
                    };
                    let event = if killed_by_us {
                        Event::ProgramCancelled { index, worker, program }
                    } else {
                        match ran {
                            Ok(result) => {
                                if stop_when.is_some_and(|f| f(&result)) {
                                    fail_fast(&cancel, &events);
                                }
                                Event::ProgramFinished { index, worker, result: Box::new(result) }
                            }
                            Err(e) => {
                                if stop_when.is_some() {
                                    fail_fast(&cancel, &events);
                                }
                                let duration = started.elapsed().as_secs_f64();
                                Event::EngineFailed { index, worker, program, failure: e.failure(), duration }
                            }
                        }
                    };
                    if events.send(event).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn a worker thread");
    }
}

/// Cancels the run for `--fail-fast`, and says so once.
fn fail_fast(cancel: &Cancel, events: &Sender<Event>) {
    if cancel.cancel(CancelReason::FailFast) {
        let _ = events.send(Event::RunCancelled { reason: CancelReason::FailFast, grace: None });
    }
}
