//! The consumer of a batch's events. The numbers live in [`Stats`] (pure, unit-tested); the outputs
//! are sinks that read them: the JSONL file (each record written the moment it arrives, one `write`
//! per whole line), the JUnit cases, the progress display (a bar on a terminal, a plain line every few
//! seconds otherwise, nothing with `--quiet`) and the summary (counts, rate, throughput, slowest
//! programs and failure buckets with their reproduce commands).

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use runner_core::classify::{classify, signature, IgnorePatterns, Status};
use runner_core::{EngineFailure, Mode, RunResult};

use runner_embed::dispatcher::{CancelReason, Event};

use crate::stats::Stats;
use crate::text::shell_quote;

/// How often a non-terminal progress line is printed.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The `status` of the record of a program the engine could not run to a result.
pub const ENGINE_FAILED: &str = "engine_failed";

/// One JSONL line: the result plus where and how it ran.
#[derive(Serialize)]
struct Record<'a> {
    #[serde(flatten)]
    result: &'a RunResult,
    index: usize,
    worker: usize,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
}

/// One JSONL line for a program the engine could not run: no returncode, no output, only what
/// failed. `--resume` runs such a program again.
#[derive(Serialize)]
struct EngineFailedRecord<'a> {
    success: bool,
    program: &'a Path,
    mode: Mode,
    duration: f64,
    index: usize,
    worker: usize,
    status: &'static str,
    engine_failure: &'a EngineFailure,
}

/// The JSONL sink: whole lines, under the lock the Ctrl-C path also takes.
struct Jsonl(Arc<Mutex<File>>);

impl Jsonl {
    fn write(&self, record: &impl Serialize) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::from)?;
        line.push(b'\n');
        // One write of the whole line under the lock: lines stay whole.
        let mut f = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f.write_all(&line)
    }
}

/// The JUnit sink: cases collected, the file written at the end.
struct Junit {
    path: PathBuf,
    cases: Vec<TestCase>,
    classname: String,
}

impl Junit {
    fn add(&mut self, result: &RunResult, status: Status) {
        let name = result.program.display().to_string();
        let mut case_status = match status {
            Status::Passed => TestCaseStatus::success(),
            Status::Ignored => {
                let mut s = TestCaseStatus::skipped();
                s.set_message("failure matches an ignore pattern");
                s
            }
            Status::Failed | Status::Crashed | Status::TimedOut => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("{}: {}", status.as_str(), signature(result)));
                s.set_type(status.as_str());
                s
            }
        };
        if status.is_failure() {
            case_status.set_description(result.stderr.clone());
        }
        let mut case = TestCase::new(name, case_status);
        case.set_classname(self.classname.clone());
        case.set_time(Duration::from_secs_f64(result.duration));
        case.set_system_out(result.stdout.clone());
        case.set_system_err(result.stderr.clone());
        self.cases.push(case);
    }

    fn add_engine_failure(&mut self, program: &Path, duration: f64, failure: &EngineFailure) {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(format!("engine failed: {failure}"));
        status.set_type(ENGINE_FAILED);
        let mut case = TestCase::new(program.display().to_string(), status);
        case.set_classname(self.classname.clone());
        case.set_time(Duration::from_secs_f64(duration));
        self.cases.push(case);
    }
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
    jsonl: Option<Jsonl>,
    junit: Option<Junit>,
    progress: Progress,
    started: Instant,
    reproduce: String,
}

/// Where a reporter writes, besides its summary on stdout.
pub struct Outputs {
    /// The JSONL results file (shared with the Ctrl-C handler, which closes it cleanly).
    pub jsonl: Option<Arc<Mutex<File>>>,
    /// The JUnit XML report, written at the end.
    pub junit: Option<PathBuf>,
    /// No progress on stderr.
    pub quiet: bool,
}

impl Reporter {
    /// A reporter for `total` programs (`skipped` more were already recorded, with `--resume`).
    pub fn new(
        total: usize,
        skipped: usize,
        mode: Mode,
        ignore: IgnorePatterns,
        Outputs { jsonl, junit, quiet }: Outputs,
        reproduce: String,
    ) -> Self {
        Reporter {
            stats: Stats::new(total, skipped),
            mode,
            ignore,
            jsonl: jsonl.map(Jsonl),
            junit: junit.map(|path| Junit { path, cases: Vec::new(), classname: format!("runner.{mode}") }),
            progress: Progress::new(total, quiet),
            started: Instant::now(),
            reproduce,
        }
    }

    /// Takes one event.
    pub fn handle(&mut self, event: Event) {
        match event {
            Event::RunStarted { .. } | Event::ProgramStarted { .. } | Event::RunFinished { .. } => return,
            Event::RunCancelled { reason: CancelReason::Interrupt, grace } => {
                // Said even with --quiet: the user pressed Ctrl-C and must know what happens now.
                eprintln!(
                    "\nrunner: interrupted: no new programs; running ones get {}s (Ctrl-C again to kill them now)",
                    grace.unwrap_or_default().as_secs_f64()
                );
                return;
            }
            Event::RunCancelled { reason: CancelReason::FailFast, .. } => return,
            Event::RunKilled => {
                eprintln!("\nrunner: killing running programs");
                return;
            }
            Event::ProgramCancelled { program, .. } => self.stats.add_cancelled(&program),
            Event::EngineFailed { index, worker, program, failure, duration } => {
                self.write(&EngineFailedRecord {
                    success: false,
                    program: &program,
                    mode: self.mode,
                    duration,
                    index,
                    worker,
                    status: ENGINE_FAILED,
                    engine_failure: &failure,
                });
                if let Some(junit) = &mut self.junit {
                    junit.add_engine_failure(&program, duration, &failure);
                }
                self.stats.add_engine_failure(&program, index, worker, duration, &failure);
            }
            Event::ProgramFinished { index, worker, result } => {
                let status = classify(&result, &self.ignore);
                let sig = status.is_failure().then(|| signature(&result));
                self.write(&Record { result: &result, index, worker, status, signature: sig.clone() });
                if let Some(junit) = &mut self.junit {
                    junit.add(&result, status);
                }
                let ignored_by = (status == Status::Ignored).then(|| self.ignore.matching(&result)).flatten();
                self.stats.add_result(&result, status, ignored_by, sig.as_deref());
            }
        }
        self.progress.tick(&self.stats, self.started);
    }

    fn write(&mut self, record: &impl Serialize) {
        let Some(jsonl) = &self.jsonl else { return };
        if let Err(e) = jsonl.write(record) {
            self.stats.add_error(format!("writing the results file: {e}"));
        }
    }

    /// Programs the engine could not run, and results that could not be written.
    pub fn runner_errors(&self) -> usize {
        self.stats.errors().len()
    }

    /// Whether any program failed (or could not be run).
    pub fn any_failure(&self) -> bool {
        self.stats.any_failure()
    }

    /// Closes the progress display, writes the JUnit file and prints the summary.
    pub fn finish(&mut self, interrupted: bool, fail_fast: bool) -> std::io::Result<()> {
        self.progress.finish();
        if let Some(junit) = self.junit.take() {
            write_junit(&junit.path, junit.cases, self.started.elapsed())?;
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let summary = Summary {
            stats: &self.stats,
            mode: self.mode,
            ignore: &self.ignore,
            reproduce: &self.reproduce,
            wall: self.started.elapsed().as_secs_f64(),
        };
        summary.write(&mut out, color, interrupted, fail_fast)?;
        out.flush()
    }
}

/// The summary sink: what `runner batch` prints at the end.
struct Summary<'a> {
    stats: &'a Stats,
    mode: Mode,
    ignore: &'a IgnorePatterns,
    reproduce: &'a str,
    wall: f64,
}

impl Summary<'_> {
    /// The command that re-runs one program as the batch ran it.
    fn reproduce_command(&self, program: &Path) -> String {
        format!("{} {}", self.reproduce, shell_quote(&program.display().to_string()))
    }

    fn write(
        &self,
        out: &mut dyn Write,
        color: bool,
        interrupted: bool,
        fail_fast: bool,
    ) -> std::io::Result<()> {
        let stats = self.stats;
        let wall = self.wall;
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
            "{headline} {} of {} programs run ({} mode){}{}",
            stats.done,
            stats.total,
            self.mode,
            if stats.skipped > 0 {
                format!(", {} already recorded (--resume)", stats.skipped)
            } else {
                String::new()
            },
            if interrupted { ", interrupted" } else { "" }
        )?;
        let errors = stats.errors();
        writeln!(
            out,
            "  passed {}, failed {}, crashed {}, timed out {}, ignored {}{}",
            n(Status::Passed),
            n(Status::Failed),
            n(Status::Crashed),
            n(Status::TimedOut),
            n(Status::Ignored),
            if errors.is_empty() { String::new() } else { format!(", runner errors {}", errors.len()) }
        )?;
        if stats.cancelled() > 0 {
            writeln!(
                out,
                "  cancelled {}: killed by the interrupt, no result recorded (--resume runs them)",
                stats.cancelled()
            )?;
        }
        let rate = if stats.done > 0 { 100.0 * failures as f64 / stats.done as f64 } else { 0.0 };
        let per_sec = stats.done as f64 / wall.max(1e-9);
        writeln!(
            out,
            "  failure rate {rate:.1}%, wall time {wall:.2}s, throughput {per_sec:.1} programs/s ({:.0}/h)",
            per_sec * 3600.0
        )?;
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
        for (i, count) in stats.ignored_by() {
            writeln!(out, "  ignored {count}x by pattern {:?}", self.ignore.pattern(i))?;
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
                writeln!(out, "         reproduce: {}", self.reproduce_command(&b.example))?;
            }
        }
        for e in errors {
            writeln!(out, "runner error: {e}")?;
        }
        if fail_fast {
            if let Some(p) = stats.first_failure() {
                writeln!(
                    out,
                    "Stopped at the first failure (--fail-fast). Reproduce it with:\n  {}",
                    self.reproduce_command(p)
                )?;
            }
        }
        Ok(())
    }
}

fn write_junit(path: &Path, cases: Vec<TestCase>, elapsed: Duration) -> std::io::Result<()> {
    let mut suite = TestSuite::new("runner batch");
    suite.add_test_cases(cases);
    suite.set_time(elapsed);
    let mut report = Report::new("runner");
    report.add_test_suite(suite);
    report.set_time(elapsed);
    let file = File::create(path)?;
    report.serialize(file).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_protects_what_the_shell_would_split() {
        assert_eq!(shell_quote("/a/b.py"), "/a/b.py");
        assert_eq!(shell_quote("/a b/it's.py"), r"'/a b/it'\''s.py'");
    }
}
