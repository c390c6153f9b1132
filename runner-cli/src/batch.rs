//! `runner batch`: many programs on parallel workers. This module validates the inputs, builds the jobs
//! and per-worker devices, has the dispatcher install its interrupt policy and hands the dispatcher's
//! events to the [`Reporter`], which owns every output (JSONL, JUnit, progress, summary).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_core::classify::{classify, IgnorePatterns};
use runner_core::{DevicePolicy, ProgramSpec, Purpose};
use runner_embed::dispatcher::{self, Cancel, Event, Job};
use runner_embed::Engines;

use crate::cli::BatchCmd;
use crate::error::CliError;
use crate::exit_code;
use crate::reporter::{Outputs, Reporter};
use crate::settings::{self, SettingsError};

/// Runs the batch command; returns the exit code.
pub fn execute(cmd: BatchCmd) -> Result<i32, CliError> {
    let config = settings::run_config(&cmd.flags)?;
    if cmd.inputs.is_empty() && cmd.from_list.is_empty() {
        return Err(SettingsError::BadValue {
            flag: "PROGRAMS",
            reason: "give program files, directories or --from-list".into(),
        }
        .into());
    }
    let programs = crate::inputs::collect(&cmd.inputs, &cmd.from_list)?;
    if programs.is_empty() {
        return Err(SettingsError::BadValue {
            flag: "PROGRAMS",
            reason: "no .py programs found in the inputs".into(),
        }
        .into());
    }
    let ignore = IgnorePatterns::new(&cmd.ignore_pattern).map_err(|e| {
        // The regex error is a multi-line picture; its last line says what is wrong.
        let text = e.to_string();
        let why = text.lines().last().unwrap_or("invalid").trim().trim_start_matches("error: ").to_string();
        SettingsError::BadValue { flag: "--ignore-pattern", reason: format!("not a valid regex: {why}") }
    })?;
    let workers = match cmd.workers {
        Some(0) => {
            return Err(
                SettingsError::BadValue { flag: "--workers", reason: "must be at least 1".into() }.into()
            )
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    let devices = worker_devices(&cmd, workers);
    let grace = settings::seconds(cmd.interrupt_grace, "--interrupt-grace")?;
    if cmd.resume && cmd.output.is_none() {
        return Err(SettingsError::BadValue { flag: "--resume", reason: "needs --output FILE".into() }.into());
    }
    let (jsonl, done) = match &cmd.output {
        Some(path) => {
            let (file, done) = open_output(path, cmd.resume)?;
            (Some(Arc::new(Mutex::new(file))), done)
        }
        None => (None, HashSet::new()),
    };
    if let Some(junit) = &cmd.junit {
        // Fail now, not after the run, if the report cannot be written.
        File::create(junit).map_err(|source| SettingsError::Unwritable { path: junit.clone(), source })?;
    }

    let jobs: Vec<Job> = programs
        .iter()
        .enumerate()
        .filter(|(_, p)| !done.contains(p.as_path()))
        .map(|(index, path)| {
            let mut spec = ProgramSpec::new(path.clone());
            spec.timeout = config.timeout;
            Job { index, spec }
        })
        .collect();
    let skipped = programs.len() - jobs.len();

    let engines = Engines::prepare(config)?;
    if let Some(warning) = engines.fallback_warning() {
        eprintln!("runner: warning: {warning}");
    }

    let cancel = Cancel::default();
    let (tx, rx) = crossbeam_channel::unbounded();
    let run_over = Arc::new(AtomicBool::new(false));
    install_interrupt_policy(&cancel, grace, tx.clone(), jsonl.clone(), Arc::clone(&run_over));

    // The interpreter a plain `runner run` would pick here: --python is named only when it differs.
    let default_python =
        settings::find_python(std::env::var_os("RUNNER_PYTHON").map(PathBuf::from).as_deref()).ok();
    let reproduce = crate::text::reproduce_prefix(engines.config(), default_python.as_deref());
    let stop_at = cmd.fail_fast.then(|| {
        let ignore = ignore.clone();
        move |r: &runner_core::RunResult| classify(r, &ignore).is_failure()
    });
    let mut reporter = Reporter::new(
        jobs.len(),
        skipped,
        engines.mode(),
        ignore,
        Outputs { jsonl, junit: cmd.junit.clone(), quiet: cmd.quiet },
        reproduce,
    );
    std::thread::scope(|scope| {
        let engines = &engines;
        let cancel_ref = &cancel;
        let devices = &devices;
        let stop_at = stop_at.as_ref().map(|f| f as &(dyn Fn(&runner_core::RunResult) -> bool + Sync));
        scope.spawn(move || dispatcher::run(engines, jobs, devices, cancel_ref, stop_at, tx));
        // The dispatcher decides fail-fast and cancellation; the reporter only reports. The interrupt
        // handler holds a sender too, so the run's end is its own event.
        for event in &rx {
            if matches!(event, Event::RunFinished { .. }) {
                break;
            }
            reporter.handle(event);
        }
    });
    run_over.store(true, Ordering::SeqCst);
    let interrupted = cancel.interrupted();
    reporter.finish(interrupted, cmd.fail_fast)?;
    Ok(if interrupted {
        exit_code::INTERRUPTED
    } else if reporter.runner_errors() > 0 {
        exit_code::INCOMPLETE
    } else if reporter.any_failure() {
        exit_code::FAILED
    } else {
        exit_code::PASSED
    })
}

/// The device each worker is pinned to: `--devices`, else the device policy's candidates (GPU 0 left
/// out with `--skip-primary-device`), spread round-robin; `None` everywhere when there is no device.
fn worker_devices(cmd: &BatchCmd, workers: usize) -> Vec<Option<String>> {
    let candidates: Vec<String> = match &cmd.devices {
        Some(list) => list.split(',').map(str::trim).filter(|d| !d.is_empty()).map(String::from).collect(),
        None => {
            let purpose = if cmd.skip_primary_device { Purpose::Validate } else { Purpose::Run };
            DevicePolicy::from_env(purpose, cmd.flags.seed).candidates().to_vec()
        }
    };
    (0..workers).map(|i| (!candidates.is_empty()).then(|| candidates[i % candidates.len()].clone())).collect()
}

/// Opens the JSONL output. With `resume`, keeps what is there (cut back to its last whole line) and
/// returns the programs already recorded; otherwise starts the file afresh.
fn open_output(path: &Path, resume: bool) -> Result<(File, HashSet<PathBuf>), SettingsError> {
    let err = |source| SettingsError::Unwritable { path: path.to_path_buf(), source };
    if !resume {
        return Ok((File::create(path).map_err(err)?, HashSet::new()));
    }
    let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(err)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(err)?;
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if whole < bytes.len() {
        file.set_len(whole as u64).map_err(err)?;
        file.seek(SeekFrom::End(0)).map_err(err)?;
    }
    let mut done = HashSet::new();
    for line in BufReader::new(&bytes[..whole]).lines() {
        let Ok(line) = line else { continue };
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            // A program the engine could not run has no result yet: it runs again.
            if v.get("status").and_then(|s| s.as_str()) == Some(crate::reporter::ENGINE_FAILED) {
                continue;
            }
            if let Some(p) = v.get("program").and_then(|p| p.as_str()) {
                done.insert(PathBuf::from(p));
            }
        }
    }
    Ok((file, done))
}

/// How long the workers may take to come back after their programs were killed before runner ends
/// without them (an engine that no longer answers must not hang the exit).
const ABANDON_AFTER: Duration = Duration::from_secs(5);

/// First Ctrl-C (or SIGTERM): no new programs, and running programs get `grace`
/// (`--interrupt-grace`); second: kill them at once. Either way the batch ends through its normal
/// path (whole JSONL lines, the summary, exit 130); only if the workers do not come back after the
/// kill does runner exit on its own, holding the results file's lock so no line is cut.
fn install_interrupt_policy(
    cancel: &Cancel,
    grace: Duration,
    events: crossbeam_channel::Sender<Event>,
    jsonl: Option<Arc<Mutex<File>>>,
    run_over: Arc<AtomicBool>,
) {
    let abandon = move || {
        if run_over.load(Ordering::SeqCst) {
            return;
        }
        let _guard = jsonl.as_ref().map(|f| f.lock().unwrap_or_else(|e| e.into_inner()));
        let _ = std::io::stderr().write_all(b"\nrunner: the engine did not stop after the kill; exiting\n");
        std::process::exit(exit_code::INTERRUPTED);
    };
    if let Err(e) = cancel.on_interrupt(grace, events, ABANDON_AFTER, abandon) {
        eprintln!("runner: warning: cannot install the Ctrl-C handler: {e}");
    }
}
