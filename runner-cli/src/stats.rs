//! The numbers of a batch, kept apart from every output: counts per verdict, failure buckets, the
//! slowest programs, engine failures and other runner errors. Pure bookkeeping, unit-tested; the
//! reporter's sinks (JSONL, JUnit, progress, summary) read it, for a batch as its results come and
//! for `runner merge` as it reads the shards' records (a [`Finished`] is what both have). Its memory does not grow with the
//! corpus: everything kept per program or per message is bounded ([`SLOWEST`], [`MAX_BUCKETS`],
//! [`MAX_ERRORS`]) and the rest is counted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use runner_core::classify::Status;
use runner_core::EngineFailure;

/// How many of the slowest programs are kept.
pub const SLOWEST: usize = 5;

/// How many distinct failure signatures get a bucket of their own; failures with a signature first
/// seen after that are only counted ([`Stats::unbucketed`]).
pub const MAX_BUCKETS: usize = 1000;

/// How many runner errors are kept with their message; later ones are only counted.
pub const MAX_ERRORS: usize = 100;

/// One failure bucket: programs whose failures share a signature.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// The verdict of its first program.
    pub status: Status,
    /// How many programs fell into it.
    pub count: usize,
    /// Its first program.
    pub example: PathBuf,
    /// The command that runs its first program again as the batch ran it.
    pub reproduce: String,
}

/// What the statistics take of a program's result: a batch's result as it comes, or a record that
/// `runner merge` reads back.
#[derive(Clone, Copy, Debug)]
pub struct Finished<'a> {
    /// The program.
    pub program: &'a Path,
    /// Its duration in seconds.
    pub duration: f64,
    /// It left processes holding its output.
    pub leaked_pipes: bool,
    /// The verdict.
    pub status: Status,
    /// The bucket signature, for a failure.
    pub signature: Option<&'a str>,
    /// The ignore pattern that matched, for an ignored failure.
    pub ignored_by: Option<&'a str>,
    /// The reproduce command, for a failure.
    pub reproduce: Option<&'a str>,
    /// The failed runs before the last (`--retries`).
    pub retries: usize,
}

/// Everything counted so far. Memory stays flat however many programs run: the slowest list, the
/// buckets and the error messages are bounded, durations are summed.
#[derive(Debug, Default)]
pub struct Stats {
    /// Programs to run (after `--resume` left out the recorded ones).
    pub total: usize,
    /// Programs already recorded (`--resume`).
    pub skipped: usize,
    /// Programs that ended, with a result or an engine failure.
    pub done: usize,
    counts: BTreeMap<Status, usize>,
    ignored_by: BTreeMap<String, usize>,
    buckets: BTreeMap<String, Bucket>,
    unbucketed: usize,
    slowest: Vec<(f64, PathBuf)>,
    total_duration: f64,
    timed: usize,
    errors: Vec<String>,
    error_count: usize,
    first_failure: Option<(PathBuf, String)>,
    leaks: usize,
    cancelled: Vec<PathBuf>,
    /// Flaky programs (passed on a retry) with their failed runs, the first [`MAX_FLAKY`].
    flaky: Vec<(PathBuf, usize)>,
}

/// How many flaky programs the summary lists by name (all are counted).
pub const MAX_FLAKY: usize = 100;

impl Stats {
    /// Statistics for a batch of `total` programs (`skipped` more already recorded).
    pub fn new(total: usize, skipped: usize) -> Self {
        Stats { total, skipped, ..Stats::default() }
    }

    /// Counts a result.
    pub fn add_result(&mut self, f: Finished<'_>) {
        let Finished { program, duration, leaked_pipes, status, signature, ignored_by, reproduce, retries } =
            f;
        *self.counts.entry(status).or_default() += 1;
        if status == Status::Flaky && self.flaky.len() < MAX_FLAKY {
            self.flaky.push((program.to_path_buf(), retries));
        }
        if let (Status::Ignored, Some(pattern)) = (status, ignored_by) {
            match self.ignored_by.get_mut(pattern) {
                Some(n) => *n += 1,
                None => {
                    self.ignored_by.insert(pattern.to_string(), 1);
                }
            }
        }
        if let Some(sig) = signature {
            let reproduce = reproduce.unwrap_or_default();
            if let Some(b) = self.buckets.get_mut(sig) {
                b.count += 1;
            } else if self.buckets.len() < MAX_BUCKETS {
                let b = Bucket {
                    status,
                    count: 1,
                    example: program.to_path_buf(),
                    reproduce: reproduce.to_string(),
                };
                self.buckets.insert(sig.to_string(), b);
            } else {
                self.unbucketed += 1;
            }
            self.first_failure.get_or_insert_with(|| (program.to_path_buf(), reproduce.to_string()));
        }
        if leaked_pipes {
            self.leaks += 1;
        }
        self.total_duration += duration;
        self.timed += 1;
        if self.slowest.len() < SLOWEST || self.slowest.last().is_some_and(|s| s.0 < duration) {
            self.slowest.push((duration, program.to_path_buf()));
            self.slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
            self.slowest.truncate(SLOWEST);
        }
        self.done += 1;
    }

    /// Counts a program the engine could not run to a result.
    pub fn add_engine_failure(
        &mut self,
        program: &Path,
        index: usize,
        worker: usize,
        duration: f64,
        f: &EngineFailure,
    ) {
        self.add_error(format!(
            "{} (program #{index}, worker {worker}, after {duration:.1}s): engine failed: {f}",
            program.display()
        ));
        self.done += 1;
    }

    /// The flaky programs listed by name, with the number of failed runs before the one that passed.
    pub fn flaky(&self) -> &[(PathBuf, usize)] {
        &self.flaky
    }

    /// Counts a running program that a cancellation killed: it has no result.
    pub fn add_cancelled(&mut self, program: &Path) {
        self.cancelled.push(program.to_path_buf());
    }

    /// Programs killed by a cancellation.
    pub fn cancelled(&self) -> usize {
        self.cancelled.len()
    }

    /// Notes a runner error that is not about one program (results that cannot be written).
    pub fn add_error(&mut self, message: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(message);
        }
        self.error_count += 1;
    }

    /// Programs with this verdict.
    pub fn count(&self, status: Status) -> usize {
        self.counts.get(&status).copied().unwrap_or(0)
    }

    /// Failed, crashed and timed-out programs, plus runner errors.
    pub fn failures(&self) -> usize {
        self.counts.iter().filter(|(s, _)| s.is_failure()).map(|(_, n)| n).sum::<usize>() + self.error_count
    }

    /// Whether the batch fails.
    pub fn any_failure(&self) -> bool {
        self.failures() > 0
    }

    /// Engine failures and results that could not be written, in the order they happened: the
    /// first [`MAX_ERRORS`] of them ([`Stats::error_count`] counts them all).
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// How many runner errors there were.
    pub fn error_count(&self) -> usize {
        self.error_count
    }

    /// The buckets, largest first (ties by signature).
    pub fn buckets(&self) -> Vec<(&str, &Bucket)> {
        let mut buckets: Vec<_> = self.buckets.iter().map(|(s, b)| (s.as_str(), b)).collect();
        buckets.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        buckets
    }

    /// Failures whose signature came after [`MAX_BUCKETS`] others: counted, in no bucket.
    pub fn unbucketed(&self) -> usize {
        self.unbucketed
    }

    /// How many failures each ignore pattern absorbed, by the pattern's text.
    pub fn ignored_by(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.ignored_by.iter().map(|(p, n)| (p.as_str(), *n))
    }

    /// The slowest programs, slowest first, at most [`SLOWEST`].
    pub fn slowest(&self) -> &[(f64, PathBuf)] {
        &self.slowest
    }

    /// The mean program duration, over programs with a result.
    pub fn mean_duration(&self) -> Option<f64> {
        (self.timed > 0).then(|| self.total_duration / self.timed as f64)
    }

    /// Programs with a result.
    pub fn timed(&self) -> usize {
        self.timed
    }

    /// The first program that failed, and its reproduce command.
    pub fn first_failure(&self) -> Option<(&Path, &str)> {
        self.first_failure.as_ref().map(|(p, r)| (p.as_path(), r.as_str()))
    }

    /// Programs that left processes holding their output.
    pub fn leaks(&self) -> usize {
        self.leaks
    }

    /// The progress line's counts.
    pub fn status_line(&self) -> String {
        format!("{} failed, {} ignored", self.failures(), self.count(Status::Ignored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_core::EngineFailureKind;

    /// A result of `program` with `status`, its signature and ignore pattern, taking `duration`.
    fn result<'a>(
        program: &'a str,
        status: Status,
        duration: f64,
        signature: Option<&'a str>,
        ignored_by: Option<&'a str>,
    ) -> Finished<'a> {
        Finished {
            program: Path::new(program),
            duration,
            leaked_pipes: false,
            status,
            signature,
            ignored_by,
            reproduce: signature.map(|_| "runner run it"),
            retries: 0,
        }
    }

    #[test]
    fn counts_failures_and_buckets_by_signature_largest_first() {
        let mut s = Stats::new(5, 0);
        s.add_result(result("/a.py", Status::Passed, 0.1, None, None));
        s.add_result(result("/b.py", Status::Failed, 0.1, Some("ValueError: x"), None));
        s.add_result(result("/c.py", Status::Crashed, 0.1, Some("SIGSEGV"), None));
        s.add_result(result("/d.py", Status::Failed, 0.1, Some("SIGSEGV"), None));
        s.add_result(result("/e.py", Status::Ignored, 0.1, None, Some("K.*")));
        assert_eq!((s.done, s.failures(), s.count(Status::Passed), s.count(Status::Ignored)), (5, 3, 1, 1));
        let buckets = s.buckets();
        assert_eq!(buckets[0].0, "SIGSEGV");
        assert_eq!((buckets[0].1.count, buckets[0].1.status), (2, Status::Crashed));
        assert_eq!(buckets[0].1.example, PathBuf::from("/c.py"));
        assert_eq!(buckets[1].0, "ValueError: x");
        assert_eq!(s.ignored_by().collect::<Vec<_>>(), vec![("K.*", 1)]);
        assert_eq!(s.first_failure(), Some((Path::new("/b.py"), "runner run it")));
        assert_eq!(s.status_line(), "3 failed, 1 ignored");
    }

    #[test]
    fn keeps_only_the_slowest_and_the_mean_of_all() {
        let mut s = Stats::new(8, 0);
        for i in 0..8 {
            s.add_result(result(&format!("/{i}.py"), Status::Passed, i as f64, None, None));
        }
        let slowest: Vec<f64> = s.slowest().iter().map(|(d, _)| *d).collect();
        assert_eq!(slowest, vec![7.0, 6.0, 5.0, 4.0, 3.0]);
        assert_eq!(s.mean_duration(), Some(3.5));
        assert!(!s.any_failure());
    }

    #[test]
    fn buckets_and_error_messages_stop_growing_at_their_bounds_but_everything_is_counted() {
        let n = MAX_BUCKETS + 7;
        let mut s = Stats::new(n, 0);
        for i in 0..n {
            let (program, sig) = (format!("/{i}.py"), format!("E{i}"));
            s.add_result(result(&program, Status::Failed, 0.1, Some(&sig), None));
        }
        // A signature that has its bucket still counts into it after the bound.
        s.add_result(result("/again.py", Status::Failed, 0.1, Some("E0"), None));
        assert_eq!((s.buckets().len(), s.unbucketed()), (MAX_BUCKETS, 7));
        assert_eq!(
            s.buckets()[0],
            (
                "E0",
                &Bucket {
                    status: Status::Failed,
                    count: 2,
                    example: "/0.py".into(),
                    reproduce: "runner run it".into()
                }
            )
        );
        for i in 0..MAX_ERRORS + 3 {
            s.add_error(format!("e{i}"));
        }
        assert_eq!((s.errors().len(), s.error_count()), (MAX_ERRORS, MAX_ERRORS + 3));
        assert_eq!(s.failures(), n + 1 + MAX_ERRORS + 3);
    }

    #[test]
    fn an_engine_failure_fails_the_batch_without_a_verdict_or_a_duration() {
        let mut s = Stats::new(1, 0);
        let f = EngineFailure { kind: EngineFailureKind::ZygoteDied, message: "gone".into() };
        s.add_engine_failure(Path::new("/a.py"), 0, 1, 0.3, &f);
        assert_eq!((s.done, s.failures(), s.timed(), s.mean_duration()), (1, 1, 0, None));
        assert_eq!(
            s.errors(),
            ["/a.py (program #0, worker 1, after 0.3s): engine failed: zygote_died: gone"]
        );
        assert_eq!(s.first_failure(), None, "the first failure is the first program that failed");
        assert!(s.buckets().is_empty());
    }
}
