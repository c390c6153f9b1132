//! `runner batch`: many programs on parallel workers. This module validates the inputs, keeps the
//! programs of its shard ([`crate::shard`]), builds the jobs and per-worker devices, has the
//! dispatcher install its interrupt policy and hands the dispatcher's events to the [`Reporter`],
//! which owns every output (JSONL, JUnit, progress, summary).

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
use crate::programs::{Marks, ProgramList};
use crate::reporter::{JsonlFile, JunitOutput, Outputs, Pages, Reporter, Sharded};
use crate::settings::{self, SettingsError};
use crate::shard::Selection;

/// The most `--retries`: more says something is wrong with the program, not with chance.
const MAX_RETRIES: u32 = 100;

/// How many events may wait for the reporter, per worker: workers block on a full queue, so a slow
/// sink holds back the run instead of piling results (each up to twice `--max-output`) up in memory.
const EVENTS_PER_WORKER: usize = 2;

/// Runs the batch command; returns the exit code.
pub fn execute(cmd: BatchCmd) -> Result<i32, CliError> {
    let command_started = std::time::Instant::now();
    let config = settings::run_config(&cmd.flags)?;
    if cmd.inputs.is_empty() && cmd.from_list.is_empty() {
        return Err(SettingsError::BadValue {
            flag: "PROGRAMS",
            reason: "give program files, directories or --from-list".into(),
        }
        .into());
    }
    let (programs, root) = crate::inputs::collect(&cmd.inputs, &cmd.from_list)?;
    if programs.is_empty() {
        return Err(SettingsError::BadValue {
            flag: "PROGRAMS",
            reason: "no .py programs found in the inputs".into(),
        }
        .into());
    }
    let bad_regex = |flag: &'static str| {
        move |e: regex::Error| {
            // The regex error is a multi-line picture; its last line says what is wrong.
            let text = e.to_string();
            let why =
                text.lines().last().unwrap_or("invalid").trim().trim_start_matches("error: ").to_string();
            SettingsError::BadValue { flag, reason: format!("not a valid regex: {why}") }
        }
    };
    let mut ignore = IgnorePatterns::new(&cmd.ignore_pattern).map_err(bad_regex("--ignore-pattern"))?;
    let known_issues_from = ignore.len();
    if let Some(path) = &cmd.known_issues {
        crate::known_issues::load(path, &mut ignore)
            .map_err(|reason| SettingsError::BadValue { flag: "--known-issues", reason })?;
    }
    let retry_on = IgnorePatterns::new(&cmd.retry_on).map_err(bad_regex("--retry-on"))?;
    if cmd.retries > MAX_RETRIES {
        return Err(SettingsError::BadValue {
            flag: "--retries",
            reason: format!("{} is more than {MAX_RETRIES}", cmd.retries),
        }
        .into());
    }
    let workers = settings::workers(cmd.workers, "--workers")?
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let devices = worker_devices(&cmd, workers);
    let grace = settings::seconds(cmd.interrupt_grace, "--interrupt-grace")?;
    if cmd.resume && cmd.output.is_none() {
        return Err(SettingsError::BadValue { flag: "--resume", reason: "needs --output FILE".into() }.into());
    }
    // The shard: only its programs run, and it names the files it writes.
    let chosen = settings::shard(cmd.shard.as_deref(), cmd.shard_count)?;
    let choosing = std::time::Instant::now();
    let selection = chosen.map(|chosen| crate::shard::select(&programs, &root, chosen, cmd.shard_by));
    if let (Some(s), true) = (&selection, settings::debug()) {
        eprintln!(
            "runner: debug: shard {} chosen ({} partition): {} of {} programs in {:.3} s",
            s.chosen.shard,
            s.partition,
            s.size(),
            programs.len(),
            choosing.elapsed().as_secs_f64()
        );
    }
    let shard = selection.as_ref().map(|s| s.chosen.shard);
    let members = selection.as_ref().map(|s| &s.members);
    let output_flag = cmd.output.as_deref().map(|p| crate::shard::output_path(p, shard));
    let junit_flag = cmd.junit.as_deref().map(|p| crate::shard::output_path(p, shard));
    let output = output_flag.as_ref().map(|o| o.file("results", "jsonl"));
    let junit_path = junit_flag.as_ref().map(|o| o.file("junit", "xml"));
    if cmd.dry_run {
        return dry_run(&programs, members, output.as_deref().filter(|_| cmd.resume));
    }
    for flag in output_flag.iter().chain(&junit_flag) {
        flag.create_dir()?;
    }
    let (results, done) = match &output {
        Some(path) => {
            let (file, start, done) = open_output(path, cmd.resume, &programs, members)?;
            let file = Arc::new(Mutex::new(file));
            (Some(JsonlFile::new(file, format!("the results file {}", path.display()), start)), done)
        }
        None => (None, Marks::new(programs.len())),
    };
    let junit = match &junit_path {
        Some(path) => Some(open_junit(path, results.as_ref())?),
        None => None,
    };

    for page in [&cmd.html, &cmd.markdown].into_iter().flatten() {
        check_writable(page)?;
    }
    let title = {
        let mut inputs: Vec<String> =
            cmd.inputs.iter().take(3).map(|p| crate::text::shell_quote_path(p)).collect();
        if cmd.inputs.len() > 3 {
            inputs.push("...".into());
        }
        if !cmd.from_list.is_empty() {
            inputs.push("--from-list ...".into());
        }
        format!("runner batch {}", inputs.join(" "))
    };
    let pages = Pages {
        html: cmd.html.clone(),
        markdown: cmd.markdown.clone(),
        title,
        command: command_line(),
        results: output.clone(),
    };

    let skipped = done.count();
    let size = selection.as_ref().map_or(programs.len(), Selection::size);
    let jobs =
        Jobs { programs: &programs, members, done: &done, next: 0, left: size - skipped, config: &config };
    let settings = crate::shard::settings_fingerprint(&config, &cmd.ignore_pattern);

    let engines = Engines::prepare(config.clone())?;
    if let Some(warning) = engines.fallback_warning() {
        eprintln!("runner: warning: {warning}");
    }

    let cancel = Cancel::default();
    let (tx, rx) = crossbeam_channel::bounded(EVENTS_PER_WORKER * workers);
    let run_over = Arc::new(AtomicBool::new(false));
    let results_lock = results.as_ref().map(JsonlFile::shared);
    install_interrupt_policy(&cancel, grace, tx.clone(), results_lock, Arc::clone(&run_over));

    // The interpreter a plain `runner run` would pick here: --python is named only when it differs.
    let default_python =
        settings::find_python(std::env::var_os("RUNNER_PYTHON").map(PathBuf::from).as_deref()).ok();
    let reproduce = crate::text::reproduce_prefix(engines.config(), default_python.as_deref());
    let stop_at = cmd.fail_fast.then(|| {
        let ignore = ignore.clone();
        move |r: &runner_core::RunResult| classify(r, &ignore).is_failure()
    });
    // A failure (not an ignored one) is run again, if it matches --retry-on where given.
    let retry_when = {
        let ignore = ignore.clone();
        let every = cmd.retry_on.is_empty();
        move |r: &runner_core::RunResult| {
            classify(r, &ignore).is_failure() && (every || retry_on.matching(r).is_some())
        }
    };
    let shard = selection.as_ref().map(|s| Sharded {
        record: s.record(programs.len(), engines.mode(), settings),
        line: s.line(programs.len()),
    });
    let mut reporter = Reporter::new(
        jobs.left,
        skipped,
        engines.mode(),
        ignore,
        known_issues_from,
        Outputs { results, junit, quiet: cmd.quiet, command_started, pages, shard },
        reproduce,
    );
    std::thread::scope(|scope| {
        let engines = &engines;
        let cancel_ref = &cancel;
        let devices = &devices;
        let stop_at = stop_at.as_ref().map(|f| f as &(dyn Fn(&runner_core::RunResult) -> bool + Sync));
        let retry = (cmd.retries > 0).then_some(dispatcher::Retry { times: cmd.retries, when: &retry_when });
        scope.spawn(move || dispatcher::run(engines, jobs, devices, cancel_ref, stop_at, retry, tx));
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

/// The jobs of a batch, made one at a time from the program list as the dispatcher takes them: the
/// programs of its shard not already recorded, in list order.
struct Jobs<'a> {
    programs: &'a ProgramList,
    /// The programs of the shard (`None`: every program).
    members: Option<&'a Marks>,
    done: &'a Marks,
    next: usize,
    left: usize,
    config: &'a runner_core::RunConfig,
}

impl Iterator for Jobs<'_> {
    type Item = Job;

    fn next(&mut self) -> Option<Job> {
        while self.next < self.programs.len() {
            let index = self.next;
            self.next += 1;
            if self.members.is_none_or(|m| m.is_marked(index)) && !self.done.is_marked(index) {
                self.left -= 1;
                let mut spec = ProgramSpec::new(self.programs.get(index));
                spec.timeout = self.config.timeout;
                return Some(Job { index, spec });
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Jobs<'_> {}

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

/// Opens the JSONL output read-write (the JUnit report reads this run's records back from it).
/// With `resume`, keeps what is there (cut back to its last whole line) and marks the programs of
/// `programs` (of the shard's `members`) already recorded; otherwise starts the file afresh. Returns
/// the file, where this run's records begin, and the marks. The file is read a line at a time: its
/// size does not matter.
fn open_output(
    path: &Path,
    resume: bool,
    programs: &ProgramList,
    members: Option<&Marks>,
) -> Result<(File, u64, Marks), SettingsError> {
    let err = |source| SettingsError::Unwritable { path: path.to_path_buf(), source };
    if !resume {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path);
        return Ok((file.map_err(err)?, 0, Marks::new(programs.len())));
    }
    let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(err)?;
    let whole = end_of_last_line(&mut file).map_err(err)?;
    if whole < file.metadata().map_err(err)?.len() {
        file.set_len(whole).map_err(err)?;
    }
    file.seek(SeekFrom::Start(0)).map_err(err)?;
    let done = recorded(&file, whole, programs, members).map_err(err)?;
    Ok((file, whole, done))
}

/// The programs of `programs` (of `members`) that the first `len` bytes of the results `file`
/// record, read a line at a time.
fn recorded(
    file: &File,
    len: u64,
    programs: &ProgramList,
    members: Option<&Marks>,
) -> std::io::Result<Marks> {
    let mut done = Marks::new(programs.len());
    let mut reader = BufReader::with_capacity(256 * 1024, file.take(len));
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(done);
        }
        if let Some(program) = recorded_program(&line) {
            if let Some(index) = programs.position(&program) {
                if members.is_none_or(|m| m.is_marked(index)) {
                    done.mark(index);
                }
            }
        }
        if line.capacity() > 1 << 20 {
            // A record with large outputs must not hold its buffer for the rest of the file.
            line = Vec::new();
        }
    }
}

/// `--dry-run`: prints the programs the batch would run (those of `members`, less those the results
/// file `resume_from` records, when it exists), one a line, and writes nothing.
fn dry_run(
    programs: &ProgramList,
    members: Option<&Marks>,
    resume_from: Option<&Path>,
) -> Result<i32, CliError> {
    use std::os::unix::ffi::OsStrExt;
    let done = match resume_from.map(File::open) {
        Some(Ok(mut file)) => {
            let err = |source| SettingsError::Unreadable {
                path: resume_from.unwrap_or(Path::new("")).into(),
                source,
            };
            let whole = end_of_last_line(&mut file).map_err(err)?;
            recorded(&file, whole, programs, members).map_err(err)?
        }
        Some(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(SettingsError::Unreadable {
                path: resume_from.unwrap_or(Path::new("")).into(),
                source: e,
            }
            .into());
        }
        _ => Marks::new(programs.len()),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (index, program) in programs.iter().enumerate() {
        if members.is_none_or(|m| m.is_marked(index)) && !done.is_marked(index) {
            out.write_all(program.as_os_str().as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(exit_code::PASSED)
}

/// The program a JSONL line records as done: its exact path, or `None` for a line that is not a
/// record or records an engine failure (a program the engine could not run has no result yet: it
/// runs again).
fn recorded_program(line: &[u8]) -> Option<PathBuf> {
    #[derive(serde::Deserialize)]
    struct Keys<'a> {
        #[serde(borrow, default)]
        status: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        program: std::borrow::Cow<'a, str>,
        #[serde(default)]
        program_bytes: Option<Vec<u8>>,
    }
    let keys: Keys<'_> = serde_json::from_slice(line).ok()?;
    if keys.status.as_deref() == Some(crate::reporter::ENGINE_FAILED) {
        return None;
    }
    Some(runner_core::program_path::from_keys(&keys.program, keys.program_bytes.as_deref()))
}

/// The length of `file` up to the end of its last whole line, found from the end backwards.
fn end_of_last_line(file: &mut File) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut end = file.metadata()?.len();
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        file.read_exact_at(buf, start)?;
        if let Some(i) = buf.iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Creates the JUnit report now (so that one that cannot be written fails before the run, not after
/// it) and, when the results file cannot be read back at the end (there is none, or it is not a
/// regular file), a private spool of the records beside it: an unnamed temporary file, which
/// nothing outlives.
fn open_junit(path: &Path, results: Option<&JsonlFile>) -> Result<JunitOutput, SettingsError> {
    File::create(path).map_err(|source| SettingsError::Unwritable { path: path.to_path_buf(), source })?;
    if results.is_some_and(JsonlFile::readable) {
        return Ok(JunitOutput { path: path.to_path_buf(), spool: None });
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let spool = tempfile::tempfile_in(&dir)
        .map_err(|source| SettingsError::Unwritable { path: dir.clone(), source })?;
    let what = format!("the JUnit report's spool (a temporary file in {})", dir.display());
    Ok(JunitOutput {
        path: path.to_path_buf(),
        spool: Some(JsonlFile::new(Arc::new(Mutex::new(spool)), what, 0)),
    })
}

/// Fails now, before anything runs, when a report page could not be written at the end: its
/// directory is missing or not writable, or it names a directory.
fn check_writable(path: &Path) -> Result<(), SettingsError> {
    if path == Path::new("-") {
        return Ok(());
    }
    let unwritable = |source| SettingsError::Unwritable { path: path.to_path_buf(), source };
    if path.is_dir() {
        return Err(unwritable(std::io::Error::from(std::io::ErrorKind::IsADirectory)));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::tempfile_in(dir).map(drop).map_err(unwritable)
}

/// The command line as typed, for the report's title (`runner batch examples --preload torch`).
fn command_line() -> String {
    let words: Vec<String> =
        std::env::args_os().skip(1).map(|a| crate::text::shell_quote(&a.to_string_lossy())).collect();
    format!("runner {}", words.join(" "))
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
    results: Option<Arc<Mutex<File>>>,
    run_over: Arc<AtomicBool>,
) {
    let abandon = move || {
        if run_over.load(Ordering::SeqCst) {
            return;
        }
        let _guard = results.as_ref().map(|f| f.lock().unwrap_or_else(|e| e.into_inner()));
        let _ = std::io::stderr().write_all(b"\nrunner: the engine did not stop after the kill; exiting\n");
        std::process::exit(exit_code::INTERRUPTED);
    };
    if let Err(e) = cancel.on_interrupt(grace, events, ABANDON_AFTER, abandon) {
        eprintln!("runner: warning: cannot install the Ctrl-C handler: {e}");
    }
}
