//! Running many programs on parallel workers. One supervisor thread per worker drives that worker's
//! engine (and so its executor); the programs wait in a crossbeam channel; everything the run does is
//! reported as [`Event`]s on another channel, which the front end's reporters consume (progress bar,
//! JSONL, JUnit, summary). This module decides nothing about output.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{unbounded, Sender};

use runner_core::device::CUDA_VISIBLE_DEVICES;
use runner_core::{EngineFailure, ProgramSpec, RunResult};

use crate::Engines;

/// One program of a batch.
#[derive(Clone, Debug)]
pub struct Job {
    /// Position of the program in the sorted input list.
    pub index: usize,
    /// What to run.
    pub spec: ProgramSpec,
}

/// What happened, as it happens.
#[derive(Debug)]
pub enum Event {
    /// A worker took a program.
    Started { index: usize, worker: usize },
    /// A program finished.
    Finished { index: usize, worker: usize, result: Box<RunResult> },
    /// The engine could not run a program to a result (the zygote died, a fork failed, the
    /// executor's own code failed): not the program's result.
    EngineFailed {
        /// Position of the program in the input list.
        index: usize,
        /// The worker that took it.
        worker: usize,
        /// The program.
        program: std::path::PathBuf,
        /// What failed.
        failure: EngineFailure,
        /// Seconds from taking the program to the failure.
        duration: f64,
    },
}

/// Shared stop switch: once set, workers take no new program.
#[derive(Clone, Debug, Default)]
pub struct StopSwitch(Arc<AtomicBool>);

impl StopSwitch {
    /// Stops scheduling.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether scheduling has stopped.
    pub fn stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A predicate on results that stops the run (`--fail-fast`), decided in the worker itself so that no
/// worker takes another program once it holds; an engine failure stops such a run too. The one place
/// fail-fast is decided.
pub type StopWhen<'a> = &'a (dyn Fn(&RunResult) -> bool + Sync);

/// Runs `jobs` on `devices.len()` workers (worker `i` pinned to `devices[i]`, `None` for no device) and
/// sends events until every job ran or `stop` was set. With one worker, jobs run in the given order.
pub fn run(
    engines: &Engines,
    jobs: Vec<Job>,
    devices: &[Option<String>],
    stop: &StopSwitch,
    stop_when: Option<StopWhen<'_>>,
    events: Sender<Event>,
) {
    let (tx, rx) = unbounded::<Job>();
    for job in jobs {
        let _ = tx.send(job);
    }
    drop(tx);
    std::thread::scope(|scope| {
        for (worker, device) in devices.iter().enumerate() {
            let rx = rx.clone();
            let events = events.clone();
            let mut engine = engines.engine();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("worker-{worker}"))
                .spawn_scoped(scope, move || {
                    while !stop.stopped() {
                        let Ok(mut job) = rx.recv() else { break };
                        if let Some(dev) = device {
                            job.spec.env.retain(|(k, _)| k != CUDA_VISIBLE_DEVICES);
                            job.spec.env.push((CUDA_VISIBLE_DEVICES.to_string(), dev.clone()));
                        }
                        let _ = events.send(Event::Started { index: job.index, worker });
                        let started = Instant::now();
                        let event = match engine.run(&job.spec) {
                            Ok(result) => {
                                if stop_when.is_some_and(|f| f(&result)) {
                                    stop.stop();
                                }
                                Event::Finished { index: job.index, worker, result: Box::new(result) }
                            }
                            Err(e) => {
                                if stop_when.is_some() {
                                    stop.stop();
                                }
                                Event::EngineFailed {
                                    index: job.index,
                                    worker,
                                    program: job.spec.path.clone(),
                                    failure: e.failure(),
                                    duration: started.elapsed().as_secs_f64(),
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
    });
}
