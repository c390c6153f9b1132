//! The consumer of a batch's events: it writes each result to the JSONL file the moment it arrives
//! (one `write` per whole line), keeps the JUnit cases, drives the progress display (a bar on a
//! terminal, a plain line every few seconds otherwise, nothing with `--quiet`), and prints the summary:
//! counts, rate, throughput, slowest programs and failure buckets with their reproduce commands.

use std::collections::BTreeMap;
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

use runner_embed::scheduler::Event;

use crate::text::shell_quote;

/// How many of the slowest programs the summary lists.
const SLOWEST: usize = 5;

/// How often a non-terminal progress line is printed.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

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

/// The `status` of the record of a program the engine could not run to a result.
pub const ENGINE_FAILED: &str = "engine_failed";

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

struct Bucket {
    status: Status,
    count: usize,
    example: PathBuf,
}

enum Progress {
    Bar(ProgressBar),
    Plain(Instant),
    Quiet,
}

/// Everything a batch reports.
pub struct Reporter {
    total: usize,
    skipped: usize,
    mode: Mode,
    ignore: IgnorePatterns,
    jsonl: Option<Arc<Mutex<File>>>,
    junit: Option<(PathBuf, Vec<TestCase>)>,
    progress: Progress,
    started: Instant,
    done: usize,
    counts: BTreeMap<Status, usize>,
    ignored_by: BTreeMap<usize, usize>,
    buckets: BTreeMap<String, Bucket>,
    /// The slowest programs so far (at most [`SLOWEST`]), and the sum and count of all durations: the
    /// reporter's memory stays flat however many programs run.
    slowest: Vec<(f64, PathBuf)>,
    total_duration: f64,
    timed: usize,
    errors: Vec<String>,
    first_failure: Option<PathBuf>,
    leaks: usize,
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
        let progress = if quiet {
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
        };
        Reporter {
            total,
            skipped,
            mode,
            ignore,
            jsonl,
            junit: junit.map(|p| (p, Vec::new())),
            progress,
            started: Instant::now(),
            done: 0,
            counts: BTreeMap::new(),
            ignored_by: BTreeMap::new(),
            buckets: BTreeMap::new(),
            slowest: Vec::new(),
            total_duration: 0.0,
            timed: 0,
            errors: Vec::new(),
            first_failure: None,
            leaks: 0,
            reproduce,
        }
    }

    /// Takes one event.
    pub fn handle(&mut self, event: Event) {
        match event {
            Event::Started { .. } => {}
            Event::EngineFailed { index, worker, program, failure, duration } => {
                self.write_line(&EngineFailedRecord {
                    success: false,
                    program: &program,
                    mode: self.mode,
                    duration,
                    index,
                    worker,
                    status: ENGINE_FAILED,
                    engine_failure: &failure,
                });
                self.errors.push(format!(
                    "{} (program #{index}, worker {worker}, after {duration:.1}s): engine failed: {failure}",
                    program.display()
                ));
                self.done += 1;
                self.tick();
            }
            Event::Finished { index, worker, result } => {
                let status = classify(&result, &self.ignore);
                let sig = status.is_failure().then(|| signature(&result));
                self.write_record(&Record { result: &result, index, worker, status, signature: sig.clone() });
                self.junit_case(&result, status);
                *self.counts.entry(status).or_default() += 1;
                if status == Status::Ignored {
                    if let Some(i) = self.ignore.matching(&result) {
                        *self.ignored_by.entry(i).or_default() += 1;
                    }
                }
                if let Some(sig) = sig {
                    let b = self.buckets.entry(sig).or_insert_with(|| Bucket {
                        status,
                        count: 0,
                        example: result.program.clone(),
                    });
                    b.count += 1;
                    if self.first_failure.is_none() {
                        self.first_failure = Some(result.program.clone());
                    }
                }
                if result.leaked_pipes {
                    self.leaks += 1;
                }
                self.total_duration += result.duration;
                self.timed += 1;
                if self.slowest.len() < SLOWEST || self.slowest.last().is_some_and(|s| s.0 < result.duration)
                {
                    self.slowest.push((result.duration, result.program.clone()));
                    self.slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
                    self.slowest.truncate(SLOWEST);
                }
                self.done += 1;
                self.tick();
            }
        }
    }

    fn write_record(&mut self, record: &Record<'_>) {
        self.write_line(record);
    }

    fn write_line(&mut self, record: &impl Serialize) {
        let Some(file) = &self.jsonl else { return };
        let mut line = serde_json::to_vec(record).expect("records serialise");
        line.push(b'\n');
        // One write of the whole line under the lock the Ctrl-C path also takes: lines stay whole.
        let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = f.write_all(&line) {
            self.errors.push(format!("writing the results file: {e}"));
        }
    }

    fn junit_case(&mut self, result: &RunResult, status: Status) {
        let Some((_, cases)) = &mut self.junit else { return };
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
        case.set_classname(format!("runner.{}", self.mode));
        case.set_time(Duration::from_secs_f64(result.duration));
        case.set_system_out(result.stdout.clone());
        case.set_system_err(result.stderr.clone());
        cases.push(case);
    }

    /// Programs the engine could not run, and results that could not be written.
    pub fn runner_errors(&self) -> usize {
        self.errors.len()
    }

    fn failures(&self) -> usize {
        self.counts.iter().filter(|(s, _)| s.is_failure()).map(|(_, n)| n).sum::<usize>() + self.errors.len()
    }

    fn status_line(&self) -> String {
        format!(
            "{} failed, {} ignored",
            self.failures(),
            self.counts.get(&Status::Ignored).copied().unwrap_or(0)
        )
    }

    fn tick(&mut self) {
        let line = self.status_line();
        match &mut self.progress {
            Progress::Bar(bar) => {
                bar.set_message(line);
                bar.set_position(self.done as u64);
            }
            Progress::Plain(last) => {
                if last.elapsed() >= PLAIN_PROGRESS_EVERY || self.done == self.total {
                    *last = Instant::now();
                    let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                    eprintln!("runner: [{}/{}] {line}, {rate:.1} programs/s", self.done, self.total);
                }
            }
            Progress::Quiet => {}
        }
    }

    /// The command that re-runs one program as the batch ran it.
    fn reproduce_command(&self, program: &Path) -> String {
        format!("{} {}", self.reproduce, shell_quote(&program.display().to_string()))
    }

    /// Whether any program failed (or could not be run).
    pub fn any_failure(&self) -> bool {
        self.failures() > 0
    }

    /// Closes the progress display, writes the JUnit file and prints the summary.
    pub fn finish(&mut self, interrupted: bool, fail_fast: bool) -> std::io::Result<()> {
        if let Progress::Bar(bar) = &self.progress {
            bar.finish_and_clear();
        }
        if let Some((path, cases)) = self.junit.take() {
            write_junit(&path, cases, self.started.elapsed())?;
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        self.summary(&mut out, color, interrupted, fail_fast)?;
        out.flush()
    }

    fn summary(
        &mut self,
        out: &mut dyn Write,
        color: bool,
        interrupted: bool,
        fail_fast: bool,
    ) -> std::io::Result<()> {
        let wall = self.started.elapsed().as_secs_f64();
        let n = |s: Status| self.counts.get(&s).copied().unwrap_or(0);
        let paint = |text: &str, code: &str| {
            if color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_string()
            }
        };
        let failures = self.failures();
        let headline = if failures == 0 { paint("PASS", "1;32") } else { paint("FAIL", "1;31") };
        writeln!(out)?;
        writeln!(
            out,
            "{headline} {} of {} programs run ({} mode){}{}",
            self.done,
            self.total,
            self.mode,
            if self.skipped > 0 {
                format!(", {} already recorded (--resume)", self.skipped)
            } else {
                String::new()
            },
            if interrupted { ", interrupted" } else { "" }
        )?;
        writeln!(
            out,
            "  passed {}, failed {}, crashed {}, timed out {}, ignored {}{}",
            n(Status::Passed),
            n(Status::Failed),
            n(Status::Crashed),
            n(Status::TimedOut),
            n(Status::Ignored),
            if self.errors.is_empty() {
                String::new()
            } else {
                format!(", runner errors {}", self.errors.len())
            }
        )?;
        let rate = if self.done > 0 { 100.0 * failures as f64 / self.done as f64 } else { 0.0 };
        let per_sec = self.done as f64 / wall.max(1e-9);
        writeln!(
            out,
            "  failure rate {rate:.1}%, wall time {wall:.2}s, throughput {per_sec:.1} programs/s ({:.0}/h)",
            per_sec * 3600.0
        )?;
        if self.timed > 0 {
            let mean = self.total_duration / self.timed as f64;
            writeln!(out, "  average program time {mean:.3}s")?;
        }
        if self.leaks > 0 {
            writeln!(out, "  {} programs left processes holding their output; they were killed", self.leaks)?;
        }
        for (i, count) in &self.ignored_by {
            writeln!(out, "  ignored {count}x by pattern {:?}", self.ignore.pattern(*i))?;
        }
        if self.timed > 1 {
            writeln!(out, "Slowest programs:")?;
            for (secs, path) in &self.slowest {
                writeln!(out, "  {secs:8.3}s  {}", path.display())?;
            }
        }
        if !self.buckets.is_empty() {
            writeln!(out, "Failure buckets ({} distinct):", self.buckets.len())?;
            let mut buckets: Vec<_> = self.buckets.iter().collect();
            buckets.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
            for (sig, b) in buckets {
                writeln!(out, "  {:>5}x {} [{}]", b.count, paint(sig, "1"), b.status.as_str())?;
                writeln!(out, "         e.g. {}", b.example.display())?;
                writeln!(out, "         reproduce: {}", self.reproduce_command(&b.example))?;
            }
        }
        for e in &self.errors {
            writeln!(out, "runner error: {e}")?;
        }
        if fail_fast {
            if let Some(p) = &self.first_failure {
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
