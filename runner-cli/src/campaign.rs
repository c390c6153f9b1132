//! A campaign's results as the reports show them: [`Campaign`] reads batch records (JSONL lines, of
//! one batch, a resumed one or a merge of shards) one at a time and keeps what the HTML, Markdown
//! and terminal reports and `runner report --bucket` need: counts per verdict, the failure buckets
//! with their first program's result, known-issue hits, flaky programs, the slowest programs, a
//! histogram of program times, completions over time, and figures per device, worker and mode.
//! Its memory is bounded however many records it reads: what is kept per program or per bucket
//! stops at fixed bounds, and outputs are kept capped.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::de::IgnoredAny;
use serde::Deserialize;

use runner_core::classify::KnownIssue;

/// The most buckets kept with their example (later signatures are only counted).
pub const MAX_BUCKETS: usize = 1000;
/// The most bytes of a bucket example's stdout or stderr that are kept.
pub const EXAMPLE_OUTPUT_CAP: usize = 16 * 1024;
/// How many programs of a bucket are named besides its example.
pub const MORE_EXAMPLES: usize = 5;
/// How many flaky programs are named (all are counted).
pub const MAX_FLAKY: usize = 100;
/// How many of the slowest programs are kept.
pub const SLOWEST: usize = 10;
/// How many engine failures are kept with their message.
pub const MAX_ENGINE_FAILURES: usize = 100;
/// How many workers (or shard workers) get a row of their own.
pub const MAX_WORKERS: usize = 4096;
/// How many devices get a row of their own.
pub const MAX_DEVICES: usize = 1024;

/// The verdicts, in the order reports list them.
pub const STATUSES: [&str; 7] =
    ["passed", "flaky", "ignored", "failed", "crashed", "timed_out", "engine_failed"];

/// Whether a verdict fails the run.
pub fn is_failure(status: &str) -> bool {
    matches!(status, "failed" | "crashed" | "timed_out" | "engine_failed")
}

pub use crate::junit::Capped;

/// The shard a record came from.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardOf {
    /// From 1.
    pub index: u32,
    /// Of how many.
    pub count: u32,
}

/// An engine failure as a record carries it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct EngineFailureView {
    /// Its kind (`zygote_died`, ...).
    pub kind: String,
    /// What happened.
    pub message: String,
}

/// What the reports read of one record. Fields a record lacks (an older runner's, an engine
/// failure's) take their defaults.
#[derive(Debug, Deserialize)]
pub struct Line<'a> {
    /// The program's path.
    #[serde(borrow)]
    pub program: Cow<'a, str>,
    /// The verdict.
    #[serde(borrow)]
    pub status: Cow<'a, str>,
    /// Seconds from start to the end of its output.
    #[serde(default)]
    pub duration: f64,
    /// When it started, in seconds since the Unix epoch.
    #[serde(default)]
    pub started_at: Option<f64>,
    /// Its returncode (none for an engine failure).
    #[serde(default)]
    pub returncode: Option<i64>,
    /// The bucket signature of a failure.
    #[serde(default)]
    pub signature: Option<Capped<4096>>,
    /// Its stdout.
    #[serde(default)]
    pub stdout: Option<Capped<EXAMPLE_OUTPUT_CAP>>,
    /// Its stderr.
    #[serde(default)]
    pub stderr: Option<Capped<EXAMPLE_OUTPUT_CAP>>,
    /// The `CUDA_VISIBLE_DEVICES` it was given.
    #[serde(default)]
    pub device: Option<String>,
    /// Its place in the campaign's sorted program list.
    #[serde(default)]
    pub index: Option<usize>,
    /// The worker that ran it.
    #[serde(default)]
    pub worker: Option<usize>,
    /// The engine that ran it.
    #[serde(default)]
    pub mode: Option<String>,
    /// Warm mode: whether a fresh executor reproduced the failure.
    #[serde(default)]
    pub confirmed: Option<bool>,
    /// It was run again as `python prog.py` after the engine failed it.
    #[serde(default)]
    pub fallback: Option<IgnoredAny>,
    /// The ignore pattern that matched an ignored failure.
    #[serde(default)]
    pub ignored_by: Option<String>,
    /// The known-issues entry that matched.
    #[serde(default)]
    pub known_issue: Option<KnownIssueHit>,
    /// Failed runs before the last (`--retries`).
    #[serde(default)]
    pub retries: Vec<IgnoredAny>,
    /// The command that runs it again as the batch ran it.
    #[serde(default)]
    pub reproduce: Option<String>,
    /// The shard that ran it.
    #[serde(default)]
    pub shard: Option<ShardOf>,
    /// Why the engine gave it no result.
    #[serde(default)]
    pub engine_failure: Option<EngineFailureView>,
}

/// The `known_issue` of a record: the entry's pattern, issue and note.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct KnownIssueHit {
    /// The pattern (absent where `ignored_by` carries it).
    #[serde(default)]
    pub pattern: Option<String>,
    /// The issue.
    #[serde(default)]
    pub issue: Option<String>,
    /// The note.
    #[serde(default)]
    pub note: Option<String>,
}

/// One program's result, as a bucket keeps its example.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Example {
    /// The program.
    pub program: String,
    /// Its place in the sorted program list, when the record says.
    pub index: Option<usize>,
    /// Its returncode.
    pub returncode: Option<i64>,
    /// Its duration.
    pub duration: f64,
    /// Its device.
    pub device: Option<String>,
    /// The engine that ran it.
    pub mode: Option<String>,
    /// Its stdout, capped.
    pub stdout: String,
    /// Its stderr, capped.
    pub stderr: String,
    /// The runner command that runs it again.
    pub reproduce: Option<String>,
}

/// One failure bucket: the programs whose failures share a signature.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// The signature (the bucket's title).
    pub signature: String,
    /// A short id fixed by the signature: the same bug has the same id in every campaign.
    pub id: String,
    /// The verdict of its first program.
    pub status: String,
    /// How many programs fell into it.
    pub count: usize,
    /// Warm mode: failures a fresh executor reproduced, and those it did not.
    pub confirmed: usize,
    /// See `confirmed`.
    pub unconfirmed: usize,
    /// Its example: the program first in the campaign's sorted list (the first recorded, without
    /// indices), so that the same results give the same report however the workers raced.
    pub example: Example,
    /// More of its programs, the first [`MORE_EXAMPLES`].
    pub more: Vec<String>,
}

/// Counts per verdict, with the time spent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Programs per verdict.
    pub statuses: BTreeMap<String, usize>,
    /// Seconds of program time.
    pub busy: f64,
}

impl Tally {
    fn add(&mut self, status: &str, duration: f64) {
        *self.statuses.entry(status.to_string()).or_default() += 1;
        self.busy += duration;
    }

    /// All programs.
    pub fn total(&self) -> usize {
        self.statuses.values().sum()
    }

    /// Programs that failed.
    pub fn failures(&self) -> usize {
        self.statuses.iter().filter(|(s, _)| is_failure(s)).map(|(_, n)| n).sum()
    }

    /// Programs with this verdict.
    pub fn count(&self, status: &str) -> usize {
        self.statuses.get(status).copied().unwrap_or(0)
    }
}

/// A known-issue entry with its hits.
#[derive(Clone, Debug, PartialEq)]
pub struct KnownHits {
    /// Its pattern.
    pub pattern: String,
    /// Its issue and note.
    pub issue: KnownIssue,
    /// Failures it absorbed.
    pub hits: usize,
    /// Whether it came from a known-issues file (listed even when not hit).
    pub listed: bool,
}

/// The wall time of the command that ran the batch, when the report is written by that command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CommandTime {
    /// Seconds of the whole command.
    pub wall: f64,
    /// Of which starting the engines.
    pub startup: f64,
}

/// Bounds of the program-time histogram: bins of a quarter decade from 1 ms to 1000 s, with the
/// first and last open.
pub const HISTOGRAM_FROM: f64 = 1e-3;
/// Bins per decade.
pub const HISTOGRAM_PER_DECADE: usize = 4;
/// Number of bins.
pub const HISTOGRAM_BINS: usize = 6 * HISTOGRAM_PER_DECADE;

/// The bin of a program time.
pub fn histogram_bin(seconds: f64) -> usize {
    // NaN and times up to the first edge land in the first bin.
    if seconds.is_nan() || seconds <= HISTOGRAM_FROM {
        return 0;
    }
    let bin = ((seconds / HISTOGRAM_FROM).log10() * HISTOGRAM_PER_DECADE as f64).floor() as usize;
    bin.min(HISTOGRAM_BINS - 1)
}

/// The lower edge of a bin, in seconds.
pub fn histogram_edge(bin: usize) -> f64 {
    HISTOGRAM_FROM * 10f64.powf(bin as f64 / HISTOGRAM_PER_DECADE as f64)
}

/// Everything the reports show of a campaign.
#[derive(Debug, Default)]
pub struct Campaign {
    /// Records read.
    pub records: usize,
    /// Counts per verdict, over all records.
    pub tally: Tally,
    buckets: HashMap<String, Bucket>,
    /// Failures whose signature came after [`MAX_BUCKETS`] others.
    pub unbucketed: usize,
    known: Vec<KnownHits>,
    /// Flaky programs with their failed runs, the first [`MAX_FLAKY`].
    pub flaky: Vec<(String, usize)>,
    slowest: Vec<(f64, String)>,
    /// Program times per histogram bin: (passed or ignored, failed).
    pub histogram: [(usize, usize); HISTOGRAM_BINS],
    /// Completions per second since the Unix epoch.
    completions: BTreeMap<i64, usize>,
    /// The first start and the last end seen, in seconds since the Unix epoch.
    pub span: Option<(f64, f64)>,
    /// Per device (`None`: no device given).
    pub devices: BTreeMap<Option<String>, Tally>,
    /// Records whose device had no row of its own.
    pub other_devices: usize,
    /// Per worker, with its shard.
    pub workers: BTreeMap<(Option<ShardOf>, usize), Tally>,
    /// Records whose worker had no row of its own.
    pub other_workers: usize,
    /// Per engine that ran the program.
    pub modes: BTreeMap<String, usize>,
    /// Programs run again as `python prog.py` because the engine failed them.
    pub fallbacks: usize,
    /// Engine failures: program and message, the first [`MAX_ENGINE_FAILURES`].
    pub engine_failures: Vec<(String, String)>,
    /// Shards seen.
    pub shards: BTreeMap<ShardOf, usize>,
    /// The command's own wall time, when the batch writes its report.
    pub command: Option<CommandTime>,
    /// Lines that were not records (a cut last line, other JSON).
    pub unreadable: usize,
}

impl Campaign {
    /// An empty campaign whose known-issue list (pattern and entry) is `known`: each entry is shown
    /// with its hits, and those not hit are named.
    pub fn new(known: impl IntoIterator<Item = (String, KnownIssue)>) -> Self {
        let known = known
            .into_iter()
            .map(|(pattern, issue)| KnownHits { pattern, issue, hits: 0, listed: true })
            .collect();
        Campaign { known, ..Campaign::default() }
    }

    /// Reads one JSONL line. A line that is not a record is counted in [`Campaign::unreadable`].
    pub fn add_line(&mut self, line: &[u8]) {
        let line = line.trim_ascii();
        if line.is_empty() {
            return;
        }
        match serde_json::from_slice::<Line<'_>>(line) {
            Ok(record) => self.add(&record),
            Err(_) => self.unreadable += 1,
        }
    }

    /// Counts one record.
    pub fn add(&mut self, r: &Line<'_>) {
        let status = r.status.as_ref();
        self.records += 1;
        self.tally.add(status, r.duration);
        let failed = is_failure(status);
        if let Some(sig) = r.signature.as_ref().filter(|_| failed) {
            self.add_to_bucket(&sig.0, status, r);
        }
        if status == "ignored" {
            let pattern = r
                .ignored_by
                .clone()
                .or_else(|| r.known_issue.as_ref().and_then(|k| k.pattern.clone()))
                .unwrap_or_else(|| "(a pattern the record does not name)".to_string());
            let issue = r
                .known_issue
                .as_ref()
                .map(|k| KnownIssue { issue: k.issue.clone(), note: k.note.clone() })
                .unwrap_or_default();
            match self.known.iter_mut().find(|k| k.pattern == pattern) {
                Some(k) => {
                    k.hits += 1;
                    if k.issue == KnownIssue::default() {
                        k.issue = issue;
                    }
                }
                None => self.known.push(KnownHits { pattern, issue, hits: 1, listed: false }),
            }
        }
        if status == "flaky" && self.flaky.len() < MAX_FLAKY {
            self.flaky.push((r.program.to_string(), r.retries.len()));
        }
        if status == "engine_failed" && self.engine_failures.len() < MAX_ENGINE_FAILURES {
            let message = r.engine_failure.as_ref().map_or_else(
                || "the engine gave no result".to_string(),
                |f| format!("{}: {}", f.kind, f.message),
            );
            self.engine_failures.push((r.program.to_string(), message));
        }
        if status != "engine_failed" {
            if self.slowest.len() < SLOWEST || self.slowest.last().is_some_and(|s| s.0 < r.duration) {
                self.slowest.push((r.duration, r.program.to_string()));
                self.slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
                self.slowest.truncate(SLOWEST);
            }
            let bin = &mut self.histogram[histogram_bin(r.duration)];
            if failed {
                bin.1 += 1;
            } else {
                bin.0 += 1;
            }
        }
        if let Some(start) = r.started_at.filter(|t| t.is_finite() && *t > 0.0) {
            let end = start + r.duration.max(0.0);
            *self.completions.entry(end.floor() as i64).or_default() += 1;
            self.span = Some(match self.span {
                None => (start, end),
                Some((a, b)) => (a.min(start), b.max(end)),
            });
        }
        if self.devices.contains_key(&r.device) || self.devices.len() < MAX_DEVICES {
            self.devices.entry(r.device.clone()).or_default().add(status, r.duration);
        } else {
            self.other_devices += 1;
        }
        if let Some(worker) = r.worker {
            let key = (r.shard, worker);
            if self.workers.contains_key(&key) || self.workers.len() < MAX_WORKERS {
                self.workers.entry(key).or_default().add(status, r.duration);
            } else {
                self.other_workers += 1;
            }
        }
        if let Some(mode) = &r.mode {
            *self.modes.entry(mode.clone()).or_default() += 1;
        }
        if r.fallback.is_some() {
            self.fallbacks += 1;
        }
        if let Some(shard) = r.shard {
            *self.shards.entry(shard).or_default() += 1;
        }
    }

    fn add_to_bucket(&mut self, sig: &str, status: &str, r: &Line<'_>) {
        let example = || Example {
            program: r.program.to_string(),
            index: r.index,
            returncode: r.returncode,
            duration: r.duration,
            device: r.device.clone(),
            mode: r.mode.clone(),
            stdout: r.stdout.clone().unwrap_or_default().0,
            stderr: r.stderr.clone().unwrap_or_default().0,
            reproduce: r.reproduce.clone(),
        };
        if !self.buckets.contains_key(sig) {
            if self.buckets.len() >= MAX_BUCKETS {
                self.unbucketed += 1;
                return;
            }
            let bucket = Bucket {
                signature: sig.to_string(),
                id: bucket_id(sig),
                status: status.to_string(),
                count: 1,
                confirmed: 0,
                unconfirmed: 0,
                example: example(),
                more: Vec::new(),
            };
            self.buckets.insert(sig.to_string(), bucket);
        } else if let Some(bucket) = self.buckets.get_mut(sig) {
            bucket.count += 1;
            let earlier = matches!((r.index, bucket.example.index), (Some(new), Some(old)) if new < old);
            let other = if earlier {
                std::mem::replace(&mut bucket.example, example()).program
            } else {
                r.program.to_string()
            };
            if bucket.more.len() < MORE_EXAMPLES {
                bucket.more.push(other);
            }
        }
        let Some(bucket) = self.buckets.get_mut(sig) else { return };
        match r.confirmed {
            Some(true) => bucket.confirmed += 1,
            Some(false) => bucket.unconfirmed += 1,
            None => {}
        }
    }

    /// The buckets, largest first (ties by signature); a bucket's number in the reports is its
    /// place here, from 1.
    pub fn buckets(&self) -> Vec<&Bucket> {
        let mut buckets: Vec<&Bucket> = self.buckets.values().collect();
        buckets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.signature.cmp(&b.signature)));
        buckets
    }

    /// The bucket `which` names: its number in [`Campaign::buckets`] (from 1), or its id (or the
    /// start of it, four characters at least, when that names one bucket).
    pub fn bucket(&self, which: &str) -> Result<(usize, &Bucket), String> {
        let buckets = self.buckets();
        if buckets.is_empty() {
            return Err("the results have no failure buckets".to_string());
        }
        let is_id = which.len() >= 4 && which.chars().all(|c| c.is_ascii_hexdigit());
        let by_id: Vec<(usize, &Bucket)> = if is_id {
            let want = which.to_ascii_lowercase();
            buckets
                .iter()
                .enumerate()
                .filter(|(_, b)| b.id.starts_with(&want))
                .map(|(i, b)| (i + 1, *b))
                .collect()
        } else {
            Vec::new()
        };
        match (which.parse::<usize>(), by_id.len()) {
            (_, 1) => Ok(by_id[0]),
            (_, n) if n > 1 => Err(format!("bucket id {which:?} names {n} buckets; give more of it")),
            (Ok(n), _) if (1..=buckets.len()).contains(&n) => Ok((n, buckets[n - 1])),
            (Ok(n), _) => Err(format!("no bucket {n}: the results have {} (numbered from 1)", buckets.len())),
            (Err(_), _) => Err(format!("no bucket {which:?}: give its number (from 1) or its id")),
        }
    }

    /// The known-issue entries: those of the list given first, in its order, then patterns the
    /// records name that it does not have.
    pub fn known(&self) -> &[KnownHits] {
        &self.known
    }

    /// The slowest programs, slowest first.
    pub fn slowest(&self) -> &[(f64, String)] {
        &self.slowest
    }

    /// Completions over the campaign's span in `bins` equal bins: (seconds from the first start
    /// to the bin's end, programs that ended in it). Empty without start times.
    pub fn throughput(&self, bins: usize) -> Vec<(f64, usize)> {
        let Some((first, last)) = self.span else { return Vec::new() };
        // Bins of a second at least: a short run gets fewer.
        let bins = bins.clamp(1, ((last - first).ceil() as usize).max(1));
        let width = (last - first) / bins as f64;
        let width = if width > 0.0 { width } else { 1.0 };
        let mut out: Vec<(f64, usize)> = (1..=bins).map(|i| (i as f64 * width, 0)).collect();
        for (second, n) in &self.completions {
            let at = (*second as f64 + 0.5 - first).max(0.0);
            let i = ((at / width) as usize).min(bins - 1);
            out[i].1 += n;
        }
        out
    }
}

/// A bucket's id: eight hex digits of the FNV-1a hash of its signature, fixed across campaigns
/// and runner versions.
pub fn bucket_id(signature: &str) -> String {
    format!("{:08x}", (runner_core::shard::fnv1a(signature.as_bytes()) >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign(lines: &[&str]) -> Campaign {
        let mut c = Campaign::new([(
            "never".to_string(),
            KnownIssue { issue: Some("https://x/1".into()), note: None },
        )]);
        for l in lines {
            c.add_line(l.as_bytes());
        }
        c
    }

    #[test]
    fn buckets_count_their_programs_and_keep_the_first_as_example() {
        let c = campaign(&[
            r#"{"program":"/a.py","status":"failed","duration":0.5,"returncode":1,"signature":"E: x","stderr":"boom","confirmed":true,"reproduce":"runner run /a.py"}"#,
            r#"{"program":"/b.py","status":"failed","duration":0.2,"returncode":1,"signature":"E: x","confirmed":false}"#,
            r#"{"program":"/c.py","status":"crashed","duration":0.1,"returncode":-11,"signature":"SIGSEGV"}"#,
            r#"{"program":"/d.py","status":"passed","duration":2.0,"returncode":0}"#,
        ]);
        let buckets = c.buckets();
        assert_eq!(buckets.len(), 2);
        let b = buckets[0];
        assert_eq!((b.signature.as_str(), b.count, b.confirmed, b.unconfirmed), ("E: x", 2, 1, 1));
        assert_eq!(b.example.program, "/a.py");
        assert_eq!(b.example.stderr, "boom");
        assert_eq!(b.example.reproduce.as_deref(), Some("runner run /a.py"));
        assert_eq!(b.more, ["/b.py"]);
        assert_eq!(c.tally.failures(), 3);
        assert_eq!(c.slowest()[0], (2.0, "/d.py".to_string()));
        assert_eq!(c.bucket("2").unwrap().1.signature, "SIGSEGV");
        assert_eq!(c.bucket(&bucket_id("SIGSEGV")).unwrap().0, 2);
        assert!(c.bucket("3").unwrap_err().contains("no bucket 3"));
    }

    #[test]
    fn a_bucket_s_example_is_its_first_program_in_the_sorted_list_however_the_workers_raced() {
        let c = campaign(&[
            r#"{"program":"/c.py","index":2,"status":"failed","returncode":1,"signature":"E","stderr":"c"}"#,
            r#"{"program":"/a.py","index":0,"status":"failed","returncode":1,"signature":"E","stderr":"a"}"#,
            r#"{"program":"/b.py","index":1,"status":"failed","returncode":1,"signature":"E","stderr":"b"}"#,
        ]);
        let b = c.buckets()[0];
        assert_eq!((b.example.program.as_str(), b.example.stderr.as_str(), b.count), ("/a.py", "a", 3));
        assert_eq!(b.more, ["/c.py", "/b.py"]);
    }

    #[test]
    fn known_issues_are_counted_by_pattern_and_an_entry_not_hit_stays_listed() {
        let c = campaign(&[
            r##"{"program":"/a.py","status":"ignored","ignored_by":"E\\d","known_issue":{"issue":"#7"}}"##,
            r#"{"program":"/b.py","status":"ignored","ignored_by":"E\\d"}"#,
        ]);
        let known = c.known();
        assert_eq!(known[0].pattern, "never");
        assert_eq!((known[0].hits, known[0].listed), (0, true));
        assert_eq!((known[1].pattern.as_str(), known[1].hits), ("E\\d", 2));
        assert_eq!(known[1].issue.issue.as_deref(), Some("#7"));
    }

    #[test]
    fn the_histogram_bins_times_by_quarter_decades() {
        assert_eq!(histogram_bin(0.0), 0);
        assert_eq!(histogram_bin(0.001), 0);
        assert_eq!(histogram_bin(0.0018), 1);
        assert_eq!(histogram_bin(0.01), 4);
        assert_eq!(histogram_bin(1.0), 12);
        assert_eq!(histogram_bin(1e9), HISTOGRAM_BINS - 1);
        assert!((histogram_edge(4) - 0.01).abs() < 1e-12);
    }

    #[test]
    fn throughput_spreads_completions_over_the_span() {
        let c = campaign(&[
            r#"{"program":"/a.py","status":"passed","duration":1.0,"started_at":1000.0}"#,
            r#"{"program":"/b.py","status":"passed","duration":1.0,"started_at":1001.0}"#,
            r#"{"program":"/c.py","status":"passed","duration":1.0,"started_at":1009.0}"#,
        ]);
        assert_eq!(c.span, Some((1000.0, 1010.0)));
        let t = c.throughput(5);
        assert_eq!(t.iter().map(|b| b.1).sum::<usize>(), 3);
        assert_eq!(t[0].1 + t[1].1, 2);
        assert_eq!(t[4].1, 1);
    }

    #[test]
    fn a_line_that_is_not_a_record_is_counted_apart() {
        let c = campaign(&["{\"program\":\"/a.py\",\"sta", "[1,2]", ""]);
        assert_eq!((c.records, c.unreadable), (0, 2));
    }

    #[test]
    fn bucket_ids_are_fixed_by_the_signature() {
        assert_eq!(bucket_id("SIGSEGV"), bucket_id("SIGSEGV"));
        assert_ne!(bucket_id("SIGSEGV"), bucket_id("SIGABRT"));
        assert_eq!(bucket_id("").len(), 8);
    }
}
