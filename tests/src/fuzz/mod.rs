//! Differential fuzzing of runner's embedded modes against `python /abs/prog.py` (`cargo xtask fuzz`,
//! and the fixed-seed CI test `tests/tests/fuzz.rs`).
//!
//! A campaign generates programs from a seed ([`grammar`], [`behaviours`], [`torch`]), writes them in
//! batches, runs each batch the reference way and through one `runner batch --workers 1` per mode
//! ([`oracle`]), and compares returncode, stdout and stderr program by program. python runs every
//! program twice: one that disagrees with itself is skipped and counted, never reported. A difference
//! is shrunk ([`shrink`]: predecessors in the same warm executor, then blocks) and written under the
//! findings directory ([`findings`]). This module schedules batches over worker threads and keeps the
//! totals; the CLI lives in `xtask/src/fuzz.rs`.

pub mod behaviours;
pub mod findings;
pub mod grammar;
pub mod oracle;
pub mod shrink;
pub mod torch;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use behaviours::AVOIDED_DIFFERENCES;
pub use findings::Finding;
pub use grammar::{generate, Program, Template};
pub use oracle::{Mode, Oracle, Outcome, Settings};

use oracle::{differing_fields, Record};

/// What can stop a campaign before it has an answer.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// `runner batch` itself failed (not a program: runner exited with neither 0 nor 1, or hung).
    #[error("runner batch failed ({status}): {stderr}")]
    Runner {
        /// Its exit status.
        status: String,
        /// Its stderr.
        stderr: String,
    },
    /// runner's JSONL has no record for a program it was given.
    #[error("runner batch gave no result for {0}")]
    MissingResult(PathBuf),
    /// runner's JSONL is not what the oracle expects.
    #[error("{0}")]
    Results(String),
}

/// When a campaign stops.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// After this many programs.
    Count(u64),
    /// After the batch that is running when this much time has passed.
    Duration(Duration),
}

/// A campaign.
#[derive(Clone, Debug)]
pub struct Config {
    /// Every program and batch setting derives from it.
    pub seed: u64,
    /// When to stop.
    pub stop: Stop,
    /// The modes compared with python.
    pub modes: Vec<Mode>,
    /// Batches run in parallel.
    pub workers: usize,
    /// Programs per batch (per `runner batch` invocation, so per warm executor chain).
    pub batch_size: usize,
    /// What programs to write.
    pub template: Template,
    /// The reference Python (also runner's `--python`).
    pub python: PathBuf,
    /// The `runner` binary.
    pub runner: PathBuf,
    /// Where batches are written (a directory per batch, removed after it unless `keep_work`).
    pub workdir: PathBuf,
    /// Where findings are written (`<seed>-<index>/`).
    pub findings_dir: PathBuf,
    /// Per-program time limit, python and runner alike.
    pub timeout: Duration,
    /// torch template: programs per batch also run under python (each costs seconds there).
    pub python_sample: usize,
    /// Most candidates one shrink may try.
    pub shrink_budget: usize,
    /// Keep the batch directories.
    pub keep_work: bool,
}

impl Config {
    /// A campaign with the defaults of `cargo xtask fuzz`: seed 0, 100 programs, warm and fork, one
    /// worker, batches of 20, the semantics template, 30 s per program.
    pub fn new(python: PathBuf, runner: PathBuf, workdir: PathBuf, findings_dir: PathBuf) -> Config {
        Config {
            seed: 0,
            stop: Stop::Count(100),
            modes: vec![Mode::Warm, Mode::Fork],
            workers: 1,
            batch_size: 20,
            template: Template::Semantics,
            python,
            runner,
            workdir,
            findings_dir,
            timeout: Duration::from_secs(30),
            python_sample: 1,
            shrink_budget: 250,
            keep_work: false,
        }
    }

    /// The program indices of batch `batch`, or None past the end of the campaign.
    fn batch_indices(&self, batch: u64) -> Option<std::ops::Range<u64>> {
        let size = self.batch_size.max(1) as u64;
        let start = batch * size;
        match self.stop {
            Stop::Count(n) if start >= n => None,
            Stop::Count(n) => Some(start..(start + size).min(n)),
            Stop::Duration(_) => Some(start..start + size),
        }
    }
}

/// What one batch did.
#[derive(Clone, Debug)]
pub struct BatchReport {
    /// Its number.
    pub batch: u64,
    /// Its environment and preloads.
    pub settings: Settings,
    /// Programs in it.
    pub programs: usize,
    /// Programs compared with python (the others were skipped or, torch, not sampled).
    pub compared: usize,
    /// Programs python disagreed with itself on.
    pub skipped_nondeterministic: usize,
    /// Programs python did not finish within the timeout.
    pub skipped_timeout: usize,
    /// Program/mode pairs that differed.
    pub differences: usize,
    /// Findings it produced (names).
    pub new_findings: Vec<String>,
}

/// Progress of a campaign, for its front end.
pub enum Event<'a> {
    /// A batch finished; the totals so far.
    Batch(&'a BatchReport, &'a Summary),
    /// A difference was shrunk and written.
    Finding(&'a Finding),
    /// `runner batch` itself failed on a batch (not a program): the batch directory is kept.
    Incident(&'a str),
    /// A difference looked like an existing finding and was counted, not shrunk.
    Duplicate {
        /// The program.
        index: u64,
        /// The mode.
        mode: Mode,
        /// The finding it matched.
        of: String,
    },
}

/// The totals of a campaign.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// The seed.
    pub seed: u64,
    /// Programs generated (and run in every mode).
    pub generated: u64,
    /// Batches run.
    pub batches: u64,
    /// Programs compared with python in every mode.
    pub compared: u64,
    /// Programs not compared because python disagreed with itself (on the first two runs, or by
    /// giving runner's result on a re-run).
    pub skipped_nondeterministic: u64,
    /// Programs not compared because python timed out.
    pub skipped_timeout: u64,
    /// The indices of the skipped programs (the first hundred): generator bugs to look at.
    pub skipped_programs: Vec<u64>,
    /// torch template: programs run only through runner (not in the python sample).
    pub not_sampled: u64,
    /// python runs (twice per compared program, up to `PYTHON_RERUNS` more per difference).
    pub python_runs: u64,
    /// Seconds spent in python runs.
    pub python_seconds: f64,
    /// Programs run per mode.
    pub runs_per_mode: BTreeMap<Mode, u64>,
    /// Seconds spent in `runner batch` per mode.
    pub seconds_per_mode: BTreeMap<Mode, f64>,
    /// Program/mode pairs that differed from python.
    pub differences: u64,
    /// Findings, shrunk and written.
    pub findings: Vec<Finding>,
    /// Differences that looked like an existing finding.
    pub duplicates: u64,
    /// Batches on which `runner batch` itself failed (crashed, hung, lost a result), described.
    pub incidents: Vec<String>,
    /// Blocks per behaviour in compared programs (and, torch, in the programs only runner ran).
    pub behaviours: BTreeMap<&'static str, u64>,
    /// How python ended the compared programs: `exit N` or `signal N`, with counts.
    pub endings: BTreeMap<String, u64>,
    /// Batches per setting (`PYTHONUNBUFFERED=1`, `preload json`, ...).
    pub settings: BTreeMap<String, u64>,
    /// Wall time.
    pub elapsed: Duration,
}

impl Summary {
    /// Programs generated per minute of wall time.
    pub fn programs_per_minute(&self) -> f64 {
        let minutes = self.elapsed.as_secs_f64() / 60.0;
        if minutes > 0.0 {
            self.generated as f64 / minutes
        } else {
            0.0
        }
    }

    /// The final report, as `cargo xtask fuzz` prints it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "fuzz summary (seed {})", self.seed);
        let _ = writeln!(
            out,
            "  {} programs generated in {} batches, {:.1} s: {:.0} programs/min",
            self.generated,
            self.batches,
            self.elapsed.as_secs_f64(),
            self.programs_per_minute()
        );
        for (mode, runs) in &self.runs_per_mode {
            let secs = self.seconds_per_mode.get(mode).copied().unwrap_or(0.0);
            let rate = if secs > 0.0 { *runs as f64 / secs * 60.0 } else { 0.0 };
            let _ = writeln!(
                out,
                "  {:<10} {runs} programs run, {secs:.1} s in runner batch ({rate:.0} programs/min)",
                mode.as_str()
            );
        }
        let py_rate = if self.python_seconds > 0.0 {
            self.python_runs as f64 / self.python_seconds * 60.0
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "  {:<10} {} runs, {:.1} s ({py_rate:.0} runs/min)",
            "python", self.python_runs, self.python_seconds
        );
        let _ = writeln!(
            out,
            "  compared {}, skipped {} (python disagreed with itself) + {} (python timed out){}",
            self.compared,
            self.skipped_nondeterministic,
            self.skipped_timeout,
            if self.not_sampled > 0 {
                format!(", {} run only through runner (not in the python sample)", self.not_sampled)
            } else {
                String::new()
            }
        );
        if !self.skipped_programs.is_empty() {
            let list: Vec<String> = self.skipped_programs.iter().map(u64::to_string).collect();
            let _ = writeln!(out, "  skipped programs: {}", list.join(", "));
        }
        let _ = writeln!(
            out,
            "  differences {}: {} findings, {} more that looked like one of them",
            self.differences,
            self.findings.len(),
            self.duplicates
        );
        for f in &self.findings {
            let dir = f.dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default();
            let _ = writeln!(out, "    {} {}\n      {dir}", f.name(), f.title());
            if !f.duplicates.is_empty() {
                let dups: Vec<String> =
                    f.duplicates.iter().map(|(i, m)| format!("{i} ({})", m.as_str())).collect();
                let _ = writeln!(out, "      also seen in programs {}", dups.join(", "));
            }
        }
        if !self.incidents.is_empty() {
            let _ = writeln!(out, "  runner batch failed {} times:", self.incidents.len());
            for incident in &self.incidents {
                let _ = writeln!(out, "    {incident}");
            }
        }
        let _ = writeln!(
            out,
            "  batch settings: {}",
            join_counts(self.settings.iter().map(|(k, v)| (k.as_str(), *v)))
        );
        let _ = writeln!(
            out,
            "  python endings: {}",
            join_counts(self.endings.iter().map(|(k, v)| (k.as_str(), *v)))
        );
        let _ = writeln!(
            out,
            "  behaviours covered ({} kinds; blocks in the programs compared{}):",
            self.behaviours.len(),
            if self.not_sampled > 0 { " or run only through runner" } else { "" }
        );
        let mut by_category: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
        for (kind, count) in &self.behaviours {
            let (category, rest) = kind.split_once('.').unwrap_or((kind, ""));
            by_category
                .entry(category)
                .or_default()
                .push((if rest.is_empty() { kind } else { rest }, *count));
        }
        for (category, kinds) in by_category {
            let total: u64 = kinds.iter().map(|(_, c)| c).sum();
            let _ = writeln!(out, "    {category} ({total}): {}", join_counts(kinds.into_iter()));
        }
        out
    }
}

fn join_counts<'a>(items: impl Iterator<Item = (&'a str, u64)>) -> String {
    items.map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

/// Runs a campaign; `on_event` hears about every batch and finding as it happens.
pub fn run(config: &Config, on_event: &(dyn Fn(Event<'_>) + Sync)) -> Result<Summary, FuzzError> {
    oracle::disable_core_dumps();
    std::fs::create_dir_all(&config.workdir)
        .map_err(|source| FuzzError::Io { what: format!("creating {}", config.workdir.display()), source })?;
    let oracle =
        Oracle { python: config.python.clone(), runner: config.runner.clone(), timeout: config.timeout };
    let started = Instant::now();
    let state = Mutex::new(Campaign {
        summary: Summary { seed: config.seed, ..Summary::default() },
        names: HashSet::new(),
    });
    let next = AtomicU64::new(0);
    let failure: Mutex<Option<FuzzError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..config.workers.max(1) {
            scope.spawn(|| loop {
                if failure.lock().expect("no panics while locked").is_some() {
                    break;
                }
                if let Stop::Duration(limit) = config.stop {
                    if started.elapsed() >= limit {
                        break;
                    }
                }
                let batch = next.fetch_add(1, Ordering::SeqCst);
                let Some(indices) = config.batch_indices(batch) else { break };
                let job = BatchJob { config, oracle: &oracle, state: &state, started, on_event };
                if let Err(e) = job.run(batch, indices) {
                    *failure.lock().expect("no panics while locked") = Some(e);
                    break;
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().expect("no panics while locked") {
        return Err(e);
    }
    let mut summary = state.into_inner().expect("no panics while locked").summary;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The shared state of a campaign's workers.
struct Campaign {
    summary: Summary,
    /// Finding directory names used so far.
    names: HashSet<String>,
}

/// How python did on one program of a batch.
enum Reference {
    /// Deterministic: the result to compare with.
    Compared(Outcome),
    /// Two runs disagreed.
    Nondeterministic,
    /// It did not finish.
    TimedOut,
    /// Not run (torch template, outside the sample).
    NotSampled,
}

/// How many more times python runs a program that runner's result differed on, before the
/// difference counts: a finding must be something python does not do.
const PYTHON_RERUNS: u64 = 8;

/// A difference seen in a batch, before shrinking.
struct Difference {
    /// Position in run order.
    rank: usize,
    /// What runner did (the differing attempt).
    actual: Outcome,
    mode: Mode,
    fields: Vec<&'static str>,
    recovered: bool,
}

struct BatchJob<'a> {
    config: &'a Config,
    oracle: &'a Oracle,
    state: &'a Mutex<Campaign>,
    started: Instant,
    on_event: &'a (dyn Fn(Event<'_>) + Sync),
}

impl BatchJob<'_> {
    /// Generates, writes and runs one batch, compares it with python, investigates its differences and
    /// adds it to the totals.
    fn run(&self, batch: u64, indices: std::ops::Range<u64>) -> Result<(), FuzzError> {
        let config = self.config;
        let settings = Settings::choose(config.seed, batch, config.template);
        let mut programs: Vec<Program> = indices.map(|i| generate(config.template, config.seed, i)).collect();
        // Warm mode runs the batch in sorted file-name order: shuffle it, and name the files so that
        // sorted order is the shuffled order.
        grammar::Gen::for_batch(config.seed, batch).shuffle(&mut programs);
        let dir = config.workdir.join(format!("batch-{batch:06}"));
        let files = write_programs(&dir, &programs)?;

        let python_started = Instant::now();
        let mut python_runs = 0;
        let mut references = Vec::new();
        for (rank, file) in files.iter().enumerate() {
            if config.template == Template::Torch && rank >= config.python_sample {
                references.push(Reference::NotSampled);
            } else {
                python_runs += 2;
                references.push(self.python_verdict(file, &settings)?);
            }
        }

        let mut records: Vec<(Mode, Vec<Record>, f64)> = Vec::new();
        let mut incidents = Vec::new();
        for &mode in &config.modes {
            let t = Instant::now();
            match self.oracle.runner_batch(mode, &files, &settings) {
                Ok(got) => records.push((mode, got, t.elapsed().as_secs_f64())),
                // runner itself failed on these programs (it crashed, hung or lost a result): a bug
                // to look at by hand, with the batch kept as it was.
                Err(e @ (FuzzError::Runner { .. } | FuzzError::MissingResult(_) | FuzzError::Results(_))) => {
                    incidents.push(format!(
                        "batch {batch} ({}), {} mode: {e} (programs kept in {})",
                        settings.describe(),
                        mode.as_str(),
                        dir.display()
                    ));
                }
                Err(e) => return Err(e),
            }
        }

        // A program outside the python sample still gets python's verdict when the modes disagree
        // on it: one of them is wrong.
        for (rank, file) in files.iter().enumerate() {
            let Some((_, first, _)) = records.first() else { break };
            let first = &first[rank].outcome;
            if matches!(references[rank], Reference::NotSampled)
                && records.iter().any(|(_, results, _)| &results[rank].outcome != first)
            {
                python_runs += 2;
                references[rank] = self.python_verdict(file, &settings)?;
            }
        }
        // A difference counts only if python never gives runner's result: a program whose result
        // depends on timing (a pool's workers may exit on their own or be terminated first) can
        // agree with itself twice and still give something else on the next run.
        let mut confirmed = Vec::new();
        for difference in differences(&references, &records) {
            if matches!(references[difference.rank], Reference::Nondeterministic) {
                continue;
            }
            let (gives, runs) = self.oracle.python_can_give(
                &files[difference.rank],
                &settings,
                &difference.actual,
                PYTHON_RERUNS,
            )?;
            python_runs += runs;
            if gives {
                references[difference.rank] = Reference::Nondeterministic;
            } else {
                confirmed.push(difference);
            }
        }
        let differences = confirmed;
        let python_seconds =
            python_started.elapsed().as_secs_f64() - records.iter().map(|(_, _, secs)| secs).sum::<f64>();

        let mut report = BatchReport {
            batch,
            settings: settings.clone(),
            programs: programs.len(),
            compared: references.iter().filter(|r| matches!(r, Reference::Compared(_))).count(),
            skipped_nondeterministic: references
                .iter()
                .filter(|r| matches!(r, Reference::Nondeterministic))
                .count(),
            skipped_timeout: references.iter().filter(|r| matches!(r, Reference::TimedOut)).count(),
            differences: differences.len(),
            new_findings: Vec::new(),
        };
        for difference in &differences {
            if let Some(name) = self.investigate(&programs, &references, difference, &settings, batch)? {
                report.new_findings.push(name);
            }
        }

        {
            let mut state = self.state.lock().expect("no panics while locked");
            let s = &mut state.summary;
            s.add_batch(&programs, &references, &records, &settings);
            s.python_runs += python_runs;
            s.python_seconds += python_seconds;
            s.differences += differences.len() as u64;
            s.elapsed = self.started.elapsed();
            for incident in &incidents {
                (self.on_event)(Event::Incident(incident));
            }
            s.incidents.extend(incidents.iter().cloned());
            (self.on_event)(Event::Batch(&report, s));
        }
        if !config.keep_work && incidents.is_empty() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(())
    }

    /// Runs `file` under python twice: its result if both runs agree.
    fn python_verdict(&self, file: &Path, settings: &Settings) -> Result<Reference, FuzzError> {
        let first = self.oracle.python(file, settings)?;
        let second = self.oracle.python(file, settings)?;
        Ok(if first.timed_out || second.timed_out {
            Reference::TimedOut
        } else if first != second {
            Reference::Nondeterministic
        } else {
            Reference::Compared(first)
        })
    }

    /// Shrinks and records one difference, unless it looks like an existing finding. Returns the new
    /// finding's name.
    fn investigate(
        &self,
        programs: &[Program],
        references: &[Reference],
        difference: &Difference,
        settings: &Settings,
        batch: u64,
    ) -> Result<Option<String>, FuzzError> {
        let target = &programs[difference.rank];
        let before: BTreeSet<&'static str> =
            programs[..difference.rank].iter().flat_map(Program::kinds).collect();
        let target_kinds: BTreeSet<&'static str> = target.kinds().collect();
        {
            let mut state = self.state.lock().expect("no panics while locked");
            if let Some(f) =
                state.summary.findings.iter_mut().find(|f| {
                    f.signature().covers(difference.mode, &difference.fields, &before, &target_kinds)
                })
            {
                f.duplicates.push((target.index, difference.mode));
                let of = f.name();
                state.summary.duplicates += 1;
                (self.on_event)(Event::Duplicate { index: target.index, mode: difference.mode, of });
                return Ok(None);
            }
        }
        let Reference::Compared(expected) = &references[difference.rank] else {
            unreachable!("only compared programs differ")
        };

        let scratch = self.config.workdir.join(format!(
            "shrink-{batch:06}-{}-{}",
            target.index,
            difference.mode.as_str()
        ));
        let mut reproducer =
            Reproducer::new(self.oracle, difference.mode, settings, &difference.fields, scratch.clone());
        let alone = vec![target.clone()];
        let with_predecessors = programs[..=difference.rank].to_vec();
        let mut tries = 1;
        let start = if reproducer.differs(&alone) {
            Some(alone)
        } else if difference.mode == Mode::Warm && difference.rank > 0 {
            tries += 1;
            reproducer.differs(&with_predecessors).then_some(with_predecessors.clone())
        } else {
            None
        };
        let (shrunk, runs) = match start {
            Some(start) => {
                let budget = self.config.shrink_budget;
                let shrunk = shrink::shrink(start, budget, &mut |candidate| reproducer.differs(candidate));
                (shrunk.programs, shrunk.runs + tries)
            }
            // It did not come back: keep everything that ran before it.
            None => (
                if difference.mode == Mode::Warm { with_predecessors.clone() } else { vec![target.clone()] },
                tries,
            ),
        };
        let _ = std::fs::remove_dir_all(&scratch);

        let mut finding = Finding {
            seed: self.config.seed,
            index: target.index,
            template: self.config.template,
            mode: difference.mode,
            settings: settings.clone(),
            fields: difference.fields.clone(),
            recovered: difference.recovered,
            programs: shrunk,
            expected: expected.clone(),
            actual: expected.clone(),
            actual_record: serde_json::Value::Null,
            first_seen: (expected.clone(), difference.actual.clone()),
            reproduced: false,
            original_blocks: with_predecessors.iter().map(|p| p.blocks.len()).sum(),
            original_programs: with_predecessors.len(),
            shrink_runs: runs,
            dir: None,
            duplicates: Vec::new(),
        };
        let dir = {
            let mut state = self.state.lock().expect("no panics while locked");
            let mut name = finding.name();
            if !state.names.insert(name.clone()) {
                name = format!("{name}-{}", difference.mode.as_str());
                state.names.insert(name.clone());
            }
            self.config.findings_dir.join(name)
        };
        findings::record(&mut finding, &dir, self.oracle)?;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut state = self.state.lock().expect("no panics while locked");
        (self.on_event)(Event::Finding(&finding));
        state.summary.findings.push(finding);
        Ok(Some(name))
    }
}

/// Writes `programs` into a fresh `dir`, named `<rank>_<index>.py` so that sorted order is their order.
fn write_programs(dir: &Path, programs: &[Program]) -> Result<Vec<PathBuf>, FuzzError> {
    let io = |what: String| move |source| FuzzError::Io { what, source };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(format!("removing {}", dir.display())))?;
    }
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let mut files = Vec::new();
    for (rank, program) in programs.iter().enumerate() {
        let file = dir.join(format!("{rank:03}_{:08}.py", program.index));
        std::fs::write(&file, program.render()).map_err(io(format!("writing {}", file.display())))?;
        files.push(file);
    }
    Ok(files)
}

/// Every program/mode pair whose result differs from python's: the reported result, or else warm
/// mode's first attempt (a leak the confirmation re-run hid).
fn differences(references: &[Reference], records: &[(Mode, Vec<Record>, f64)]) -> Vec<Difference> {
    let mut out = Vec::new();
    for (mode, results, _) in records {
        for (rank, (reference, record)) in references.iter().zip(results).enumerate() {
            let Reference::Compared(expected) = reference else { continue };
            let fields = differing_fields(expected, &record.outcome);
            if !fields.is_empty() {
                out.push(Difference {
                    rank,
                    actual: record.outcome.clone(),
                    mode: *mode,
                    fields,
                    recovered: false,
                });
            } else if let Some(first) = &record.warm_attempt {
                let fields = differing_fields(expected, first);
                if !fields.is_empty() {
                    out.push(Difference {
                        rank,
                        actual: first.clone(),
                        mode: *mode,
                        fields,
                        recovered: true,
                    });
                }
            }
        }
    }
    out
}

impl Summary {
    /// Counts a batch's programs, runs, behaviours, python endings and settings.
    fn add_batch(
        &mut self,
        programs: &[Program],
        references: &[Reference],
        records: &[(Mode, Vec<Record>, f64)],
        settings: &Settings,
    ) {
        self.generated += programs.len() as u64;
        self.batches += 1;
        for (mode, results, secs) in records {
            *self.runs_per_mode.entry(*mode).or_default() += results.len() as u64;
            *self.seconds_per_mode.entry(*mode).or_default() += secs;
        }
        for (program, reference) in programs.iter().zip(references) {
            match reference {
                Reference::Compared(outcome) => {
                    self.compared += 1;
                    let ending = if outcome.returncode < 0 {
                        format!("signal {}", -outcome.returncode)
                    } else {
                        format!("exit {}", outcome.returncode)
                    };
                    *self.endings.entry(ending).or_default() += 1;
                }
                Reference::NotSampled => self.not_sampled += 1,
                Reference::Nondeterministic => self.skipped_nondeterministic += 1,
                Reference::TimedOut => self.skipped_timeout += 1,
            }
            if matches!(reference, Reference::Nondeterministic | Reference::TimedOut)
                && self.skipped_programs.len() < 100
            {
                self.skipped_programs.push(program.index);
            }
            if matches!(reference, Reference::Compared(_) | Reference::NotSampled) {
                for kind in program.kinds() {
                    *self.behaviours.entry(kind).or_default() += 1;
                }
            }
        }
        for label in settings_labels(settings) {
            *self.settings.entry(label).or_default() += 1;
        }
    }
}

/// The labels a batch's settings count under in [`Summary::settings`].
fn settings_labels(settings: &Settings) -> Vec<String> {
    let mut labels =
        vec![if settings.unbuffered { "PYTHONUNBUFFERED=1" } else { "PYTHONUNBUFFERED unset" }.to_string()];
    labels.push(
        if settings.hash_seed.is_some() { "PYTHONHASHSEED set" } else { "PYTHONHASHSEED unset" }.to_string(),
    );
    labels.push(if settings.preload.is_empty() {
        "no preload".to_string()
    } else {
        format!("preload {}", settings.preload.join(","))
    });
    labels
}

/// Runs candidate reproductions of one difference: python on the last program (cached by file name
/// and text, since the path shows in tracebacks) and runner on them all, in a scratch directory.
struct Reproducer<'a> {
    oracle: &'a Oracle,
    mode: Mode,
    settings: &'a Settings,
    fields: &'a [&'static str],
    dir: PathBuf,
    expected: HashMap<(String, String), Outcome>,
}

impl<'a> Reproducer<'a> {
    fn new(
        oracle: &'a Oracle,
        mode: Mode,
        settings: &'a Settings,
        fields: &'a [&'static str],
        dir: PathBuf,
    ) -> Self {
        Reproducer { oracle, mode, settings, fields, dir, expected: HashMap::new() }
    }

    /// Whether running `programs` in one batch still makes the last one differ from python in one of
    /// the original fields. A candidate that cannot be run does not reproduce.
    fn differs(&mut self, programs: &[Program]) -> bool {
        self.try_differs(programs).unwrap_or(false)
    }

    fn try_differs(&mut self, programs: &[Program]) -> Result<bool, FuzzError> {
        let io = |what: String| move |source| FuzzError::Io { what, source };
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).map_err(io(format!("removing {}", self.dir.display())))?;
        }
        std::fs::create_dir_all(&self.dir).map_err(io(format!("creating {}", self.dir.display())))?;
        let mut files = Vec::new();
        let mut sources = Vec::new();
        for (rank, program) in programs.iter().enumerate() {
            let file = self.dir.join(format!("{rank:02}_{:08}.py", program.index));
            let source = program.render();
            std::fs::write(&file, &source).map_err(io(format!("writing {}", file.display())))?;
            files.push(file);
            sources.push(source);
        }
        let target = files.last().expect("a reproduction has a target");
        let key = (target.display().to_string(), sources.pop().expect("a source per file"));
        let expected = match self.expected.get(&key) {
            Some(outcome) => outcome.clone(),
            None => {
                let outcome = self.oracle.python(target, self.settings)?;
                self.expected.insert(key, outcome.clone());
                outcome
            }
        };
        let records = self.oracle.runner_batch(self.mode, &files, self.settings)?;
        let record = records.last().expect("a record per program");
        let differs = record
            .observed()
            .any(|outcome| differing_fields(&expected, outcome).iter().any(|f| self.fields.contains(f)));
        Ok(differs)
    }
}

/// The findings directory of a checkout: `<workspace>/fuzz/findings`.
pub fn default_findings_dir(workspace: &Path) -> PathBuf {
    workspace.join("fuzz").join("findings")
}
