//! The consumer of a batch's events. The numbers live in [`Stats`] (pure, unit-tested); the outputs
//! are sinks that read them: the JSONL file (each record written the moment it arrives, one `write`
//! per whole line; a failed write cuts the file back to its last whole line and closes it), the
//! JUnit report (written at the end from the records on disk by [`crate::junit`], from the JSONL
//! file or, without one, from a private spool of the same records), the progress display (a bar on
//! a terminal, a plain line every few seconds otherwise, nothing with `--quiet`) and the summary
//! (counts, rate, throughput, slowest programs and failure buckets with their reproduce commands,
//! as text or Markdown). `runner merge` prints the same [`Summary`] from the shards' records.
//! Nothing here keeps a record once it is written.

use std::collections::HashMap;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use runner_core::classify::{classify, signature, IgnorePatterns, Status};
use runner_core::shard::ShardRecord;
use runner_core::{EngineFailure, Mode, RunResult};

use runner_embed::dispatcher::{CancelReason, Event};

use crate::campaign::{Campaign, CommandTime};
use crate::junit;
use crate::stats::{Finished, Stats};
use crate::text::shell_quote_path;

/// How often a non-terminal progress line is printed.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The `status` of the record of a program the engine could not run to a result.
pub const ENGINE_FAILED: &str = "engine_failed";

/// Now, in seconds since the Unix epoch (a record's `started_at`).
pub fn now_epoch() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// One JSONL line: the result plus where and how it ran (a batch's, and `runner serve`'s `-o`).
#[derive(Serialize)]
pub struct Record<'a> {
    /// What the program did.
    #[serde(flatten)]
    pub result: &'a RunResult,
    /// Its place in the input list (a server: the request's number).
    pub index: usize,
    /// The worker that ran it.
    pub worker: usize,
    /// The verdict.
    pub status: Status,
    /// When the program started, in seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<f64>,
    /// A failure's bucket signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<&'a str>,
    /// For an ignored failure: the pattern that matched (`--ignore-pattern` or `--known-issues`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored_by: Option<&'a str>,
    /// For a failure a `--known-issues` entry matched: the entry's issue and note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_issue: Option<&'a runner_core::classify::KnownIssue>,
    /// For a failure: the command that runs the program again as the batch ran it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<&'a str>,
    /// The shard that ran it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<&'a ShardRecord>,
}

/// One JSONL line for a program the engine could not run: no returncode, no output, only what
/// failed. `--resume` runs such a program again.
#[derive(Serialize)]
pub struct EngineFailedRecord<'a> {
    /// Always false.
    pub success: bool,
    /// The program.
    #[serde(flatten, serialize_with = "runner_core::program_path::serialize")]
    pub program: &'a Path,
    /// The mode it was to run in.
    pub mode: Mode,
    /// Seconds from taking it to the failure.
    pub duration: f64,
    /// As [`Record::index`].
    pub index: usize,
    /// As [`Record::worker`].
    pub worker: usize,
    /// [`ENGINE_FAILED`].
    pub status: &'static str,
    /// As [`Record::started_at`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<f64>,
    /// What failed.
    pub engine_failure: &'a EngineFailure,
    /// As [`Record::shard`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<&'a ShardRecord>,
}

/// A JSONL file the reporter writes: the results file (`--output`) or the JUnit report's spool.
/// Lines are written whole, under the lock the Ctrl-C path also takes. The first write that fails
/// (a full disk) cuts the file back to the end of its last whole line and closes it: every line
/// on disk stays a whole record, later records are counted as lost, and the batch ends with 3.
pub struct JsonlFile {
    file: Arc<Mutex<File>>,
    /// How messages name it ("the results file /x.jsonl").
    what: String,
    /// Where this run's records begin (after the records a resumed run keeps).
    start: u64,
    /// The end of the last whole line written.
    end: u64,
    /// A regular file, which can be cut back and read back (not /dev/full, a pipe).
    regular: bool,
    failed: Option<std::io::Error>,
    lost: usize,
}

impl JsonlFile {
    /// A sink for `file`, named `what` in messages, whose records begin at `start` (its length).
    pub fn new(file: Arc<Mutex<File>>, what: String, start: u64) -> Self {
        let regular = file.lock().unwrap_or_else(|e| e.into_inner()).metadata().is_ok_and(|m| m.is_file());
        JsonlFile { file, what, start, end: start, regular, failed: None, lost: 0 }
    }

    /// The file and its lock, for the Ctrl-C path (which must not exit in the middle of a line).
    pub fn shared(&self) -> Arc<Mutex<File>> {
        Arc::clone(&self.file)
    }

    /// Whether the records can be read back from it (a regular file).
    pub fn readable(&self) -> bool {
        self.regular
    }

    /// Appends one whole line; on the first failure returns what to tell the user now.
    pub fn write_line(&mut self, line: &[u8]) -> Option<String> {
        if self.failed.is_some() {
            self.lost += 1;
            return None;
        }
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        match f.write_all(line) {
            Ok(()) => {
                self.end += line.len() as u64;
                None
            }
            Err(e) => {
                // Part of the line may be on disk: cut it off, under the lock, so that every line of
                // the file stays a whole record (for --resume, the JUnit report, jq).
                let cut = if self.regular { f.set_len(self.end).err() } else { None };
                let told = match cut {
                    None => format!(
                        "cannot write {}: {e}; it ends at its last whole record and later results are not written to it",
                        self.what
                    ),
                    Some(cut) => format!(
                        "cannot write {}: {e}; cutting it back to its last whole record failed too: {cut}",
                        self.what
                    ),
                };
                self.failed = Some(e);
                self.lost += 1;
                Some(told)
            }
        }
    }

    /// The summary's runner error, when a write failed.
    fn error(&self) -> Option<String> {
        let e = self.failed.as_ref()?;
        Some(format!(
            "cannot write {}: {e}: {} results not written (--resume runs them)",
            self.what, self.lost
        ))
    }

    /// This run's records, for reading back.
    fn records(&self) -> std::io::Result<junit::Region> {
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner()).try_clone()?;
        Ok(junit::Region::new(file, self.start, self.end))
    }
}

/// The JUnit report: where it goes, and the spool it is written from when the results file cannot
/// be read back (no `--output`, or one that is not a regular file).
pub struct JunitOutput {
    /// The report's path.
    pub path: PathBuf,
    /// A private JSONL of this run's records (an unnamed temporary file).
    pub spool: Option<JsonlFile>,
}

/// The progress sink.
enum Progress {
    Bar(ProgressBar),
    Plain(Instant),
    Quiet,
}

impl Progress {
    fn new(total: usize, quiet: bool) -> Self {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {pos}/{len} {msg} {per_sec} ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            Progress::Bar(bar)
        } else {
            Progress::Plain(Instant::now())
        }
    }

    fn tick(&mut self, stats: &Stats, started: Instant) {
        let line = stats.status_line();
        match self {
            Progress::Bar(bar) => {
                bar.set_message(line);
                bar.set_position(stats.done as u64);
            }
            Progress::Plain(last) => {
                if last.elapsed() >= PLAIN_PROGRESS_EVERY || stats.done == stats.total {
                    *last = Instant::now();
                    let rate = stats.done as f64 / started.elapsed().as_secs_f64().max(1e-9);
                    eprintln!("runner: [{}/{}] {line}, {rate:.1} programs/s", stats.done, stats.total);
                }
            }
            Progress::Quiet => {}
        }
    }

    /// A line on stderr that must be seen (even with --quiet), without tearing the bar.
    fn say(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.suspend(|| eprintln!("{line}")),
            _ => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Everything a batch reports: its statistics and the sinks that show them.
pub struct Reporter {
    stats: Stats,
    mode: Mode,
    ignore: IgnorePatterns,
    /// The index of the first entry of `ignore` that came from `--known-issues` (the ones before are
    /// `--ignore-pattern`s): those are listed in the summary even when nothing hit them.
    known_issues_from: usize,
    results: Option<JsonlFile>,
    junit: Option<JunitOutput>,
    progress: Progress,
    /// When the command started (its wall time counts from here).
    command_started: Instant,
    /// When the engines were up and the first program could start.
    started: Instant,
    reproduce: String,
    /// When each running program started (by its index), in seconds since the Unix epoch.
    running: HashMap<usize, f64>,
    /// The campaign's report, fed with each record as it is written, for `--html` and `--markdown`.
    campaign: Option<Campaign>,
    /// Where the HTML and Markdown reports go, and the page's title.
    pages: Pages,
    /// The shard this batch is, if it is one.
    shard: Option<Sharded>,
}

/// The report pages a batch writes at the end (`--html`, `--markdown`).
#[derive(Default)]
pub struct Pages {
    /// The HTML page.
    pub html: Option<PathBuf>,
    /// The Markdown report (`-`: stdout, after the summary).
    pub markdown: Option<PathBuf>,
    /// Their title (`runner batch examples`).
    pub title: String,
    /// The command line as typed.
    pub command: String,
    /// The results file (`-o`), which `runner report` reads.
    pub results: Option<PathBuf>,
}

/// A sharded batch: the `shard` object of its records, and how its summary says which shard ran.
pub struct Sharded {
    /// Every record's `shard`.
    pub record: ShardRecord,
    /// The summary's line (`shard 2 of 8 (hash partition, from Slurm array task 5 of 1-8): ...`).
    pub line: String,
}

/// Where a reporter writes, besides its summary on stdout.
pub struct Outputs {
    /// The JSONL results file (its lock shared with the Ctrl-C handler, which exits cleanly).
    pub results: Option<JsonlFile>,
    /// The JUnit XML report, written at the end.
    pub junit: Option<JunitOutput>,
    /// No progress on stderr.
    pub quiet: bool,
    /// When the command started: the summary's wall time is the whole command's, with the engine
    /// start-up (the time until the reporter is made) shown apart.
    pub command_started: Instant,
    /// The report pages.
    pub pages: Pages,
    /// The shard this batch is, if it is one.
    pub shard: Option<Sharded>,
}

impl Reporter {
    /// A reporter for `total` programs (`skipped` more were already recorded, with `--resume`).
    pub fn new(
        total: usize,
        skipped: usize,
        mode: Mode,
        ignore: IgnorePatterns,
        known_issues_from: usize,
        Outputs { results, junit, quiet, command_started, pages, shard }: Outputs,
        reproduce: String,
    ) -> Self {
        let campaign = (pages.html.is_some() || pages.markdown.is_some()).then(|| {
            Campaign::new(
                (known_issues_from..ignore.len())
                    .map(|i| (ignore.pattern(i).to_string(), ignore.issue(i).clone())),
            )
        });
        Reporter {
            stats: Stats::new(total, skipped),
            mode,
            ignore,
            known_issues_from,
            results,
            junit,
            progress: Progress::new(total, quiet),
            command_started,
            started: Instant::now(),
            reproduce,
            running: HashMap::new(),
            campaign,
            pages,
            shard,
        }
    }

    /// Takes one event.
    pub fn handle(&mut self, event: Event) {
        match event {
            Event::ProgramStarted { index, .. } => {
                self.running.insert(index, now_epoch());
                return;
            }
            Event::RunStarted { .. } | Event::RunFinished { .. } => return,
            Event::RunCancelled { reason: CancelReason::Interrupt, grace } => {
                // Said even with --quiet: the user pressed Ctrl-C and must know what happens now.
                eprintln!(
                    "\nrunner: interrupted: no new programs; running ones get {}s (a second Ctrl-C or SIGTERM kills them now)",
                    grace.unwrap_or_default().as_secs_f64()
                );
                return;
            }
            Event::RunCancelled { reason: CancelReason::FailFast, .. } => return,
            Event::RunKilled => {
                eprintln!("\nrunner: killing running programs");
                return;
            }
            Event::ProgramCancelled { index, program, .. } => {
                self.running.remove(&index);
                self.stats.add_cancelled(&program);
            }
            Event::EngineFailed { index, worker, program, failure, duration } => {
                let started_at = self.running.remove(&index);
                let line = serde_json::to_vec(&EngineFailedRecord {
                    success: false,
                    program: &program,
                    mode: self.mode,
                    duration,
                    index,
                    worker,
                    status: ENGINE_FAILED,
                    started_at,
                    engine_failure: &failure,
                    shard: self.shard.as_ref().map(|s| &s.record),
                });
                self.write(line);
                self.stats.add_engine_failure(&program, index, worker, duration, &failure);
            }
            Event::ProgramFinished { index, worker, result } => {
                let started_at = self.running.remove(&index);
                let status = classify(&result, &self.ignore);
                let sig = status.is_failure().then(|| signature(&result));
                let reproduce = sig.is_some().then(|| reproduce_command(&self.reproduce, &result.program));
                let matched = (status == Status::Ignored).then(|| self.ignore.matching(&result)).flatten();
                let ignored_by = matched.map(|i| self.ignore.pattern(i).to_string());
                let known_issue =
                    matched.filter(|i| *i >= self.known_issues_from).map(|i| self.ignore.issue(i));
                let line = serde_json::to_vec(&Record {
                    result: &result,
                    index,
                    worker,
                    status,
                    started_at,
                    signature: sig.as_deref(),
                    ignored_by: ignored_by.as_deref(),
                    known_issue,
                    reproduce: reproduce.as_deref(),
                    shard: self.shard.as_ref().map(|s| &s.record),
                });
                self.write(line);
                self.stats.add_result(Finished {
                    program: &result.program,
                    duration: result.duration,
                    leaked_pipes: result.leaked_pipes,
                    status,
                    signature: sig.as_deref(),
                    ignored_by: ignored_by.as_deref(),
                    reproduce: reproduce.as_deref(),
                    retries: result.retries().count(),
                });
            }
        }
        self.progress.tick(&self.stats, self.started);
    }

    /// Writes one record (serialised) to the results file and the JUnit spool.
    fn write(&mut self, record: serde_json::Result<Vec<u8>>) {
        let spool = self.junit.as_mut().and_then(|j| j.spool.as_mut());
        if self.results.is_none() && spool.is_none() && self.campaign.is_none() {
            return;
        }
        let mut line = match record {
            Ok(line) => line,
            Err(e) => {
                self.stats.add_error(format!("cannot write a result as JSON: {e}"));
                return;
            }
        };
        line.push(b'\n');
        if let Some(campaign) = self.campaign.as_mut() {
            campaign.add_line(&line);
        }
        for sink in [self.results.as_mut(), spool].into_iter().flatten() {
            if let Some(told) = sink.write_line(&line) {
                self.progress.say(&format!("runner: error: {told}"));
            }
        }
    }

    /// Programs the engine could not run, and results that could not be written.
    pub fn runner_errors(&self) -> usize {
        self.stats.error_count()
    }

    /// Whether any program failed (or could not be run).
    pub fn any_failure(&self) -> bool {
        self.stats.any_failure()
    }

    /// Closes the progress display, writes the JUnit file and prints the summary. What could not be
    /// written is a runner error of the summary (and so exit code 3), named on stderr too.
    pub fn finish(&mut self, interrupted: bool, fail_fast: bool) -> std::io::Result<()> {
        self.progress.finish();
        if let Some(junit) = self.junit.take() {
            let source = junit.spool.as_ref().or(self.results.as_ref());
            let classname = format!("runner.{}", self.mode);
            let written = match source {
                Some(source) => {
                    junit::write(&junit.path, || source.records(), &classname, self.started.elapsed())
                }
                None => Err(std::io::Error::other("no records to read back")),
            };
            if let Err(e) = written {
                // A cut report is worse than none: CI would read part of it as the whole.
                let _ = std::fs::remove_file(&junit.path);
                let message = format!(
                    "cannot write the JUnit report {}: {e} (the incomplete file was removed)",
                    junit.path.display()
                );
                eprintln!("runner: error: {message}");
                self.stats.add_error(message);
            }
            if let Some(error) = junit.spool.as_ref().and_then(JsonlFile::error) {
                self.stats.add_error(error);
            }
        }
        if let Some(error) = self.results.as_ref().and_then(JsonlFile::error) {
            self.stats.add_error(error);
        }
        let wall = self.command_started.elapsed().as_secs_f64();
        let startup = self.started.duration_since(self.command_started).as_secs_f64();
        let mut markdown_to_stdout = None;
        if let Some(mut campaign) = self.campaign.take() {
            campaign.command = Some(CommandTime { wall, startup });
            let title = self.pages.title.as_str();
            let mut pages: Vec<(&Path, String)> = Vec::new();
            if let Some(path) = &self.pages.html {
                pages.push((
                    path,
                    crate::html::render(
                        &campaign,
                        &crate::html::Source { title, command: Some(&self.pages.command), remake: None },
                    ),
                ));
            }
            if let Some(path) = &self.pages.markdown {
                let text = crate::markdown::report(&campaign, title);
                if path == Path::new("-") {
                    markdown_to_stdout = Some(text);
                } else {
                    pages.push((path, text));
                }
            }
            for (path, text) in pages {
                if let Err(e) = crate::output_file::write_whole(path, text.as_bytes()) {
                    eprintln!("runner: error: {e}");
                    self.stats.add_error(e.to_string());
                }
            }
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let summary = Summary {
            stats: &self.stats,
            what: format!("{} mode", self.mode),
            wall: Some(Timing { wall, startup }),
            notes: self.shard.iter().map(|s| s.line.clone()).collect(),
            report_command: self
                .pages
                .results
                .as_deref()
                .map(|p| format!("runner report {}", shell_quote_path(p))),
            known_issues: (self.known_issues_from..self.ignore.len())
                .map(|i| (self.ignore.pattern(i).to_string(), self.ignore.issue(i).clone()))
                .collect(),
        };
        summary.write(&mut out, color, interrupted, fail_fast)?;
        if let Some(text) = markdown_to_stdout {
            writeln!(out)?;
            out.write_all(text.as_bytes())?;
        }
        out.flush()
    }
}

/// `runner run` and what changes how the batch runs programs (`prefix`, [`crate::text::reproduce_prefix`]),
/// then the program.
pub fn reproduce_command(prefix: &str, program: &Path) -> String {
    format!("{prefix} {}", shell_quote_path(program))
}

/// A run's wall time, with the engine start-up in it.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// The whole command's wall time, in seconds.
    pub wall: f64,
    /// How much of it went to starting the engines (the zygote and its preloads).
    pub startup: f64,
}

/// The summary sink: what `runner batch` prints at the end, and `runner merge` for a campaign.
pub struct Summary<'a> {
    /// The numbers.
    pub stats: &'a Stats,
    /// What ran, for the headline's parenthesis (`warm mode`, `3 shards merged`).
    pub what: String,
    /// The run's wall time, when there is one run to time (a merge has none).
    pub wall: Option<Timing>,
    /// Lines said after the counts (the shard that ran, the shards merged).
    pub notes: Vec<String>,
    /// The entries of a known-issues file (pattern, issue and note), each listed with its hits,
    /// those not hit too.
    pub known_issues: Vec<(String, runner_core::classify::KnownIssue)>,
    /// `runner report FILE`, when the records are in a results file: each bucket then says how to
    /// get its issue body (`runner report FILE --bucket ID`).
    pub report_command: Option<String>,
}

impl Summary<'_> {
    /// Writes the summary as text (`color`: with ANSI colours, for a terminal).
    pub fn write(
        &self,
        out: &mut dyn Write,
        color: bool,
        interrupted: bool,
        fail_fast: bool,
    ) -> std::io::Result<()> {
        let stats = self.stats;
        let n = |s: Status| stats.count(s);
        let paint = |text: &str, code: &str| {
            if color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_string()
            }
        };
        let failures = stats.failures();
        let headline = if failures == 0 { paint("PASS", "1;32") } else { paint("FAIL", "1;31") };
        writeln!(out)?;
        writeln!(
            out,
            "{headline} {} of {} programs run ({}){}{}",
            stats.done,
            stats.total,
            self.what,
            if stats.skipped > 0 {
                format!(", {} already recorded (--resume)", stats.skipped)
            } else {
                String::new()
            },
            if interrupted { ", interrupted" } else { "" }
        )?;
        let errors = stats.errors();
        let error_count = stats.error_count();
        writeln!(
            out,
            "  passed {}{}, failed {}, crashed {}, timed out {}, ignored {}{}",
            n(Status::Passed),
            match n(Status::Flaky) {
                0 => String::new(),
                flaky => format!(", flaky {flaky}"),
            },
            n(Status::Failed),
            n(Status::Crashed),
            n(Status::TimedOut),
            n(Status::Ignored),
            if error_count == 0 { String::new() } else { format!(", runner errors {error_count}") }
        )?;
        if stats.cancelled() > 0 {
            writeln!(
                out,
                "  cancelled {}: killed by the interrupt, no result recorded (--resume runs them)",
                stats.cancelled()
            )?;
        }
        for note in &self.notes {
            writeln!(out, "  {note}")?;
        }
        let rate = if stats.done > 0 { 100.0 * failures as f64 / stats.done as f64 } else { 0.0 };
        match self.wall {
            Some(Timing { wall, startup }) => {
                let per_sec = stats.done as f64 / wall.max(1e-9);
                let per_sec_running = stats.done as f64 / (wall - startup).max(1e-9);
                writeln!(
                    out,
                    "  failure rate {rate:.1}%, wall {wall:.2}s, of which {startup:.2}s engine start-up"
                )?;
                writeln!(
                    out,
                    "  throughput {per_sec:.1} programs/s ({:.0}/h) over the wall, {per_sec_running:.1} programs/s once started",
                    per_sec * 3600.0
                )?;
            }
            None => writeln!(out, "  failure rate {rate:.1}%")?,
        }
        if let Some(mean) = stats.mean_duration() {
            writeln!(out, "  average program time {mean:.3}s")?;
        }
        if stats.leaks() > 0 {
            writeln!(
                out,
                "  {} programs left processes holding their output; they were killed",
                stats.leaks()
            )?;
        }
        let known = |pattern: &str| self.known_issues.iter().any(|(p, _)| p == pattern);
        for (pattern, count) in stats.ignored_by().filter(|(p, _)| !known(p)) {
            writeln!(out, "  ignored {count}x by pattern {pattern:?}")?;
        }
        if !self.known_issues.is_empty() {
            // Every entry of the known-issues file, hit or not: one not hit any more may be fixed.
            let hits: std::collections::BTreeMap<&str, usize> = stats.ignored_by().collect();
            writeln!(out, "Known issues:")?;
            for (pattern, issue) in &self.known_issues {
                let name = issue.issue.clone().unwrap_or_else(|| format!("{pattern:?}"));
                let note = issue.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
                match hits.get(pattern.as_str()) {
                    Some(n) => writeln!(out, "  {n:>5}x {name}{note}")?,
                    None => writeln!(out, "      0x {name}{note}: not hit in this run (fixed?)")?,
                }
            }
        }
        if !stats.flaky().is_empty() {
            writeln!(out, "Flaky programs (passed on a retry):")?;
            for (path, failed) in stats.flaky() {
                let runs = if *failed == 1 { "run" } else { "runs" };
                writeln!(out, "  {} (after {failed} failed {runs})", path.display())?;
            }
            if n(Status::Flaky) > stats.flaky().len() {
                writeln!(out, "  ... and {} more", n(Status::Flaky) - stats.flaky().len())?;
            }
        }
        if stats.timed() > 1 {
            writeln!(out, "Slowest programs:")?;
            for (secs, path) in stats.slowest() {
                writeln!(out, "  {secs:8.3}s  {}", path.display())?;
            }
        }
        let buckets = stats.buckets();
        if !buckets.is_empty() {
            writeln!(out, "Failure buckets ({} distinct):", buckets.len())?;
            for (sig, b) in buckets {
                writeln!(out, "  {:>5}x {} [{}]", b.count, paint(sig, "1"), b.status.as_str())?;
                writeln!(out, "         e.g. {}", b.example.display())?;
                writeln!(out, "         reproduce: {}", b.reproduce)?;
                if let Some(report) = &self.report_command {
                    writeln!(out, "         issue: {report} --bucket {}", crate::campaign::bucket_id(sig))?;
                }
            }
        }
        if stats.unbucketed() > 0 {
            writeln!(
                out,
                "  {} more failures have signatures beyond the first {} (the records' `signature` has them)",
                stats.unbucketed(),
                crate::stats::MAX_BUCKETS
            )?;
        }
        for e in errors {
            writeln!(out, "runner error: {e}")?;
        }
        if error_count > errors.len() {
            writeln!(out, "runner error: ... and {} more", error_count - errors.len())?;
        }
        if fail_fast {
            if let Some((_, reproduce)) = stats.first_failure() {
                writeln!(
                    out,
                    "Stopped at the first failure (--fail-fast). Reproduce it with:\n  {reproduce}"
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_protects_what_the_shell_would_split() {
        assert_eq!(shell_quote_path(Path::new("/a/b.py")), "/a/b.py");
        assert_eq!(shell_quote_path(Path::new("/a b/it's.py")), r"'/a b/it'\''s.py'");
    }
}
