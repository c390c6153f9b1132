//! `runner merge`: the shards of a campaign (`runner batch --shard K/N -o ...`, each on its own
//! machine) made one result, as if one machine had run the whole corpus: the merged JSONL (the
//! latest record of each program), the JUnit report, the same summary and failure buckets as a
//! single-machine batch, and a Markdown report.
//!
//! Before anything is written it checks that the files form one campaign: one file per shard, the
//! same N, the same corpus root, partition and settings ([`crate::shard::settings_fingerprint`]),
//! and, record by record, that each program belongs to the shard that recorded it (so no program is
//! in two shards): a slice shard's by its index, a hash shard's by its first choice, or, for a
//! program whose first choice was full, by the sizes of the shards on its way (which the shards'
//! records give; see [`runner_core::shard::check_hash_shard`]). Shards that did not finish are
//! counted, program by program, as runner errors. A cut last line (a writer killed mid-line) or a line that is not a record is left out with a
//! warning that names the file; the merged output is written to a temporary file beside its place
//! and renamed at the end, so an error never destroys what an earlier merge wrote.
//!
//! Memory is bounded by one shard, not by the campaign: the files are read one at a time, twice
//! each (first the latest record of each program is found, then those records are copied as they
//! are and counted), and only the first pass keeps anything per program.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use runner_core::classify::Status;
use runner_core::shard::{check_hash_shard, hash_capacity, relative_to, slice_shard, Partition, ShardRecord};
use runner_core::{EngineFailure, Mode};

use crate::cli::MergeCmd;
use crate::error::CliError;
use crate::exit_code;
use crate::junit::{self, Region};
use crate::reporter::{Summary, ENGINE_FAILED};
use crate::stats::{Finished, Stats};

/// Why a merge stopped.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The inputs do not form one campaign, or name no results: nothing was written.
    #[error("{0}")]
    Input(String),
    /// An input cannot be read.
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// An output cannot be written.
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl MergeError {
    /// The exit code: bad inputs are usage errors (2), outputs that cannot be written leave the
    /// merge incomplete (3).
    pub fn exit_code(&self) -> i32 {
        match self {
            MergeError::Input(_) | MergeError::Read { .. } => exit_code::USAGE,
            MergeError::Write { .. } => exit_code::INCOMPLETE,
        }
    }
}

/// Runs `runner merge`; returns the exit code.
pub fn execute(cmd: MergeCmd) -> Result<i32, CliError> {
    let step_summary = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()).map(PathBuf::from);
    let report = cmd.markdown.is_some() || cmd.html.is_some() || step_summary.is_some();
    let outputs = Outputs { jsonl: cmd.output.clone(), junit: cmd.junit.clone(), report };
    let files = input_files(&cmd.inputs, &outputs)?;
    let mut warn = |w: String| eprintln!("runner: warning: {w}");
    let merged = merge(&files, &outputs, &mut warn)?;
    let summary = merged.summary();
    let stdout = std::io::stdout();
    {
        use std::io::IsTerminal;
        let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let mut out = stdout.lock();
        summary.write(&mut out, color, false, false)?;
        out.flush()?;
    }
    let markdown = merged.markdown();
    if let Some(path) = &cmd.markdown {
        crate::output_file::write_whole(path, markdown.as_bytes())
            .map_err(|source| MergeError::Write { path: path.clone(), source })?;
    }
    if let (Some(path), Some(report)) = (&cmd.html, &merged.report) {
        let title = format!("runner merge: {}", merged.summary().what);
        let remake = "runner report MERGED.jsonl --html FILE (from the merge's -o)";
        let page = crate::html::render(
            report,
            &crate::html::Source { title: &title, command: None, remake: Some(remake) },
        );
        crate::output_file::write_whole(path, page.as_bytes())
            .map_err(|source| MergeError::Write { path: path.clone(), source })?;
    }
    if let Some(path) = step_summary {
        // GitHub Actions' job summary: every step appends its Markdown.
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .and_then(|mut f| f.write_all(markdown.as_bytes()));
        appended.map_err(|source| MergeError::Write { path, source })?;
    }
    Ok(if merged.stats.error_count() > 0 {
        exit_code::INCOMPLETE
    } else if merged.stats.any_failure() {
        exit_code::FAILED
    } else {
        exit_code::PASSED
    })
}

/// Where a merge writes.
#[derive(Default)]
pub struct Outputs {
    /// The merged JSONL.
    pub jsonl: Option<PathBuf>,
    /// The JUnit report.
    pub junit: Option<PathBuf>,
    /// Build the campaign's report (Markdown, HTML) from the merged records.
    pub report: bool,
}

/// The results files the inputs name: files as given, directories' `*-<K>-of-<N>.jsonl` files
/// (sorted); the merge's own outputs and a file named twice are read once or not at all.
pub fn input_files(inputs: &[PathBuf], outputs: &Outputs) -> Result<Vec<PathBuf>, MergeError> {
    let ours: Vec<PathBuf> = [&outputs.jsonl, &outputs.junit]
        .into_iter()
        .flatten()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let mut files: Vec<(PathBuf, PathBuf)> = Vec::new();
    for input in inputs {
        let read = |source| MergeError::Read { path: input.clone(), source };
        let meta = std::fs::metadata(input).map_err(read)?;
        let mut found = Vec::new();
        if meta.is_dir() {
            for entry in std::fs::read_dir(input).map_err(read)? {
                let path = entry.map_err(read)?.path();
                if path.is_file() && name_shard(&path).is_some() {
                    found.push(path);
                }
            }
            found.sort();
            if found.is_empty() {
                return Err(MergeError::Input(format!(
                    "{} holds no shard results (files named *-<K>-of-<N>.jsonl)",
                    input.display()
                )));
            }
        } else {
            found.push(input.clone());
        }
        for path in found {
            let canonical =
                path.canonicalize().map_err(|source| MergeError::Read { path: path.clone(), source })?;
            if ours.contains(&canonical) {
                continue;
            }
            if files.iter().any(|(_, c)| *c == canonical) {
                eprintln!("runner: warning: {} is named twice; it is read once", path.display());
                continue;
            }
            files.push((path, canonical));
        }
    }
    if files.is_empty() {
        return Err(MergeError::Input("no results files to merge".into()));
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// The shard a file's name gives (`results-3-of-8.jsonl`), for a file without records.
fn name_shard(path: &Path) -> Option<(u32, u32)> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".jsonl")?;
    let (head, n) = stem.rsplit_once("-of-")?;
    let k = head.rsplit('-').next()?;
    let (k, n) = (k.parse().ok()?, n.parse().ok()?);
    (1..=n).contains(&k).then_some((k, n))
}

/// What the first pass reads of a record.
#[derive(Deserialize)]
struct Key<'a> {
    #[serde(borrow)]
    program: Cow<'a, str>,
    #[serde(default)]
    program_bytes: Option<Vec<u8>>,
    #[serde(default)]
    index: Option<usize>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(default)]
    shard: Option<ShardRecord>,
}

impl Key<'_> {
    fn program(&self) -> Cow<'_, [u8]> {
        match &self.program_bytes {
            Some(b) => Cow::Borrowed(b.as_slice()),
            None => Cow::Borrowed(self.program.as_bytes()),
        }
    }
}

/// What the second pass counts of a record.
#[derive(Deserialize)]
struct View<'a> {
    #[serde(borrow)]
    program: Cow<'a, str>,
    #[serde(default)]
    program_bytes: Option<Vec<u8>>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(default)]
    duration: f64,
    #[serde(default)]
    leaked_pipes: bool,
    #[serde(default, borrow)]
    signature: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    ignored_by: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reproduce: Option<Cow<'a, str>>,
    #[serde(default)]
    index: usize,
    #[serde(default)]
    worker: usize,
    #[serde(default)]
    engine_failure: Option<EngineFailure>,
    /// The failed runs before the last (`--retries`), counted.
    #[serde(default)]
    retries: Vec<serde::de::IgnoredAny>,
}

/// A verdict's name in records.
fn status_of(name: &str) -> Option<Status> {
    [Status::Passed, Status::Flaky, Status::Ignored, Status::Failed, Status::Crashed, Status::TimedOut]
        .into_iter()
        .find(|s| s.as_str() == name)
}

/// One input file and what its first record says.
struct ShardFile {
    path: PathBuf,
    /// The `shard` object of its first record, or `None` for a file without records (then `k`
    /// and `n` come from its name) or of a batch without `--shard`.
    first: Option<ShardRecord>,
    k: u32,
    n: u32,
}

/// One shard's part of the merge.
struct ShardPart {
    k: u32,
    path: PathBuf,
    /// Programs the shard has (from its latest record).
    programs: usize,
    /// Programs with a record.
    recorded: usize,
    /// Of those, programs whose latest record is an engine failure.
    engine_failed: usize,
    /// Failed, crashed and timed-out programs.
    failures: usize,
    /// Records replaced by a later record of the same program (a resumed shard).
    replaced: usize,
}

/// The merged campaign.
pub struct Merged {
    stats: Stats,
    n: u32,
    partition: Option<Partition>,
    root: Option<PathBuf>,
    mode: Option<Mode>,
    parts: Vec<ShardPart>,
    missing_shards: Vec<u32>,
    /// The report of the merged records, when asked for.
    report: Option<crate::campaign::Campaign>,
    /// The merged JSONL, when it was written.
    output: Option<PathBuf>,
}

impl Merged {
    /// The summary, as a batch prints it.
    pub fn summary(&self) -> Summary<'_> {
        let present = self.parts.len();
        let mode = self.mode.map(|m| format!(", {m} mode")).unwrap_or_default();
        let replaced: usize = self.parts.iter().map(|p| p.replaced).sum();
        let mut notes = Vec::new();
        if let (Some(partition), Some(root)) = (self.partition, &self.root) {
            let how = match partition {
                Partition::Hash => format!("hash of the paths under {}", root.display()),
                Partition::Slice => "slice of the sorted list".to_string(),
            };
            notes.push(format!("shards: {present} of {} ({how})", self.n));
        }
        if replaced > 0 {
            notes.push(format!("{replaced} earlier records replaced by a later record of the same program"));
        }
        Summary {
            stats: &self.stats,
            what: format!("{present} of {} shards merged{mode}", self.n),
            wall: None,
            notes,
            known_issues: Vec::new(),
            report_command: self
                .output
                .as_deref()
                .map(|p| format!("runner report {}", crate::text::shell_quote_path(p))),
        }
    }

    /// The Markdown report: the campaign's report (without one, only the shards) and a table of
    /// the shards.
    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut out = match &self.report {
            Some(report) => {
                crate::markdown::report(report, &format!("runner merge: {}", self.summary().what))
            }
            None => String::new(),
        };
        let _ = writeln!(out, "\n### Shards\n");
        let _ = writeln!(out, "| shard | file | programs | recorded | failures | missing |");
        let _ = writeln!(out, "| ---: | --- | ---: | ---: | ---: | ---: |");
        let mut rows: Vec<(u32, String)> = self
            .parts
            .iter()
            .map(|p| {
                let missing = p.programs.saturating_sub(p.recorded) + p.engine_failed;
                (
                    p.k,
                    format!(
                        "| {}/{} | `{}` | {} | {} | {} | {} |",
                        p.k,
                        self.n,
                        p.path.display().to_string().replace('`', "'"),
                        p.programs,
                        p.recorded,
                        p.failures,
                        missing
                    ),
                )
            })
            .collect();
        rows.extend(
            self.missing_shards
                .iter()
                .map(|&k| (k, format!("| {k}/{} | (none) | ? | 0 | 0 | all |", self.n))),
        );
        rows.sort_by_key(|r| r.0);
        for (_, row) in rows {
            let _ = writeln!(out, "{row}");
        }
        out
    }

    /// The numbers of the merged campaign.
    #[cfg(test)]
    fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// Merges `files` into `outputs`; `warn` hears each warning (a file or line left out). Nothing is
/// written when the files do not form one campaign.
pub fn merge(
    files: &[PathBuf],
    outputs: &Outputs,
    warn: &mut dyn FnMut(String),
) -> Result<Merged, MergeError> {
    let mut shards = Vec::new();
    for path in files {
        if let Some(file) = head(path, warn)? {
            shards.push(file);
        }
    }
    let campaign = check_campaign(&mut shards, warn)?;

    // The merged JSONL goes to a temporary file beside its place, renamed at the end; without one,
    // the JUnit report reads the records back from a private spool.
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MergeError::Write { path, source }
    };
    let sink_path = outputs.jsonl.clone().or_else(|| outputs.junit.clone());
    let sink = match &sink_path {
        Some(path) => {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            // As a file the merge created itself would be (0666 less the umask), not a private 0600.
            let mode = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o666);
            Some(
                tempfile::Builder::new()
                    .prefix(".runner-merge-")
                    .permissions(mode)
                    .tempfile_in(&dir)
                    .map_err(write_err(&dir))?,
            )
        }
        None => None,
    };
    let mut writer = match &sink {
        Some(tmp) => Some(BufWriter::with_capacity(
            256 * 1024,
            tmp.as_file().try_clone().map_err(write_err(tmp.path()))?,
        )),
        None => None,
    };

    let total = campaign.total;
    let mut stats = Stats::new(total.unwrap_or(0), 0);
    let mut report = outputs.report.then(|| crate::campaign::Campaign::new(std::iter::empty()));
    let mut parts = Vec::new();
    let mut counted = 0usize;
    let out_path = sink_path.clone().unwrap_or_default();
    for file in &shards {
        let out = writer.as_mut().map(|w| (w, out_path.as_path()));
        let part = merge_shard(file, &campaign, out, &mut stats, report.as_mut(), warn)?;
        counted += part.programs;
        if part.recorded < part.programs {
            stats.add_error(format!(
                "shard {}/{} ({}): {} of its {} programs have no result (the shard did not finish: run it again with --resume)",
                part.k,
                campaign.n,
                part.path.display(),
                part.programs - part.recorded,
                part.programs
            ));
        }
        parts.push(part);
    }
    let missing_shards: Vec<u32> = (1..=campaign.n).filter(|k| !shards.iter().any(|s| s.k == *k)).collect();
    // Programs of the campaign that no shard's records account for: those of shards without a file,
    // and of shards whose file has no record (an empty shard has none; one killed before its first
    // result has some).
    let unaccounted = total.map_or(0, |t| t.saturating_sub(counted));
    let silent: Vec<u32> = parts.iter().filter(|p| p.recorded == 0 && p.programs == 0).map(|p| p.k).collect();
    if !missing_shards.is_empty() || unaccounted > 0 {
        let list = |ks: &[u32]| {
            let shown: Vec<String> = ks.iter().take(20).map(|k| format!("{k}/{}", campaign.n)).collect();
            format!("{}{}", shown.join(", "), if ks.len() > shown.len() { ", ..." } else { "" })
        };
        let mut why = Vec::new();
        if !missing_shards.is_empty() {
            why.push(format!(
                "{} of {} shards have no results file ({})",
                missing_shards.len(),
                campaign.n,
                list(&missing_shards)
            ));
        }
        if unaccounted > 0 && !silent.is_empty() {
            why.push(format!("the files of shards {} have no records", list(&silent)));
        }
        let count = match total {
            Some(t) if unaccounted > 0 => {
                format!(": {unaccounted} programs of the campaign's {t} did not run")
            }
            _ => String::new(),
        };
        stats.add_error(format!("{}{count}", why.join("; ")));
    }
    stats.total = total.unwrap_or(counted).max(stats.done);

    if let Some(mut w) = writer.take() {
        w.flush().map_err(write_err(sink_path.as_deref().unwrap_or(Path::new("."))))?;
    }
    if let (Some(tmp), Some(path)) = (&sink, &outputs.junit) {
        let len = tmp.as_file().metadata().map_err(write_err(tmp.path()))?.len();
        let records = || Ok(Region::new(tmp.as_file().try_clone()?, 0, len));
        let classname = format!("runner.{}", campaign.mode.map_or("merged", Mode::as_str));
        let elapsed = Duration::from_secs_f64(stats.mean_duration().unwrap_or(0.0) * stats.timed() as f64);
        if let Err(source) = junit::write(path, records, &classname, elapsed) {
            let _ = std::fs::remove_file(path);
            return Err(MergeError::Write { path: path.clone(), source });
        }
    }
    if let (Some(tmp), Some(path)) = (sink, &outputs.jsonl) {
        tmp.persist(path).map_err(|e| MergeError::Write { path: path.clone(), source: e.error })?;
    }
    Ok(Merged {
        stats,
        n: campaign.n,
        partition: campaign.partition,
        root: campaign.root,
        mode: campaign.mode,
        parts,
        missing_shards,
        report,
        output: outputs.jsonl.clone(),
    })
}

/// What every shard of the campaign shares.
struct Campaign {
    n: u32,
    partition: Option<Partition>,
    root: Option<PathBuf>,
    settings: Option<String>,
    total: Option<usize>,
    mode: Option<Mode>,
    /// Each shard's size (index K), as its records say; `None` for a shard without records here.
    sizes: Vec<Option<usize>>,
    /// A batch without `--shard`, merged on its own (its records are checked against nothing).
    unsharded: bool,
}

/// Reads the first record of `path` that has one, for the shard it holds.
fn head(path: &Path, warn: &mut dyn FnMut(String)) -> Result<Option<ShardFile>, MergeError> {
    let read = |source| MergeError::Read { path: path.to_path_buf(), source };
    let mut reader = BufReader::new(File::open(path).map_err(read)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(read)? == 0 || !line.ends_with(b"\n") {
            break;
        }
        let Ok(key) = serde_json::from_slice::<Key<'_>>(&line) else { continue };
        return Ok(Some(match key.shard {
            Some(shard) => {
                if let Some((k, n)) = name_shard(path).filter(|&(k, n)| (k, n) != (shard.index, shard.count))
                {
                    warn(format!(
                        "{}: its name says shard {k}/{n} but its records are of shard {}/{}; the records count",
                        path.display(),
                        shard.index,
                        shard.count
                    ));
                }
                ShardFile { path: path.to_path_buf(), k: shard.index, n: shard.count, first: Some(shard) }
            }
            None => {
                let (k, n) = name_shard(path).unwrap_or((1, 1));
                ShardFile { path: path.to_path_buf(), first: None, k, n }
            }
        }));
    }
    // No whole record: an empty shard, or one killed before its first result.
    match name_shard(path) {
        Some((k, n)) => Ok(Some(ShardFile { path: path.to_path_buf(), first: None, k, n })),
        None => {
            warn(format!("{}: no records, and its name names no shard; left out", path.display()));
            Ok(None)
        }
    }
}

/// Checks that `shards` are the shards of one campaign (sorting them by K) and returns what they
/// share.
fn check_campaign(shards: &mut [ShardFile], warn: &mut dyn FnMut(String)) -> Result<Campaign, MergeError> {
    if shards.is_empty() {
        return Err(MergeError::Input("no records to merge".into()));
    }
    let unsharded: Vec<&ShardFile> =
        shards.iter().filter(|s| s.first.is_none() && name_shard(&s.path).is_none()).collect();
    if let Some(plain) = unsharded.first() {
        if shards.len() > 1 {
            return Err(MergeError::Input(format!(
                "{} has the records of a batch without --shard: merge the shards of one campaign, or that file alone",
                plain.path.display()
            )));
        }
        return Ok(Campaign {
            n: 1,
            partition: None,
            root: None,
            settings: None,
            total: None,
            mode: None,
            sizes: Vec::new(),
            unsharded: true,
        });
    }
    shards.sort_by_key(|s| s.k);
    let reference = &shards[0];
    for s in shards.iter() {
        if s.n != reference.n {
            return Err(MergeError::Input(format!(
                "{} holds shard {}/{} but {} holds shard {}/{}: not the shards of one campaign (N differs)",
                s.path.display(),
                s.k,
                s.n,
                reference.path.display(),
                reference.k,
                reference.n
            )));
        }
    }
    for pair in shards.windows(2) {
        if pair[0].k == pair[1].k {
            return Err(MergeError::Input(format!(
                "shard {}/{} is in two files, {} and {}: merge one of them",
                pair[0].k,
                pair[0].n,
                pair[0].path.display(),
                pair[1].path.display()
            )));
        }
    }
    let mut campaign = Campaign {
        n: reference.n,
        partition: None,
        root: None,
        settings: None,
        total: None,
        mode: None,
        sizes: vec![None; reference.n as usize + 1],
        unsharded: false,
    };
    let mut first: Option<&ShardFile> = None;
    for s in shards.iter() {
        let Some(record) = &s.first else { continue };
        campaign.sizes[s.k as usize] = Some(record.programs);
        let Some(f) = first else {
            first = Some(s);
            campaign.partition = Some(record.partition);
            campaign.root = Some(record.root.clone());
            campaign.settings = Some(record.settings.clone());
            campaign.total = Some(record.total);
            campaign.mode = Some(record.mode);
            continue;
        };
        let theirs = f.first.as_ref().expect("the first file with records");
        let other = |what: String| {
            MergeError::Input(format!(
                "{} is from another campaign than {}: {what}",
                s.path.display(),
                f.path.display()
            ))
        };
        if record.root != theirs.root {
            return Err(other(format!(
                "its corpus root is {}, not {}",
                record.root.display(),
                theirs.root.display()
            )));
        }
        if record.partition != theirs.partition {
            return Err(other(format!(
                "its shards are dealt out by {}, not {}",
                record.partition, theirs.partition
            )));
        }
        if record.settings != theirs.settings {
            return Err(other(
                "it was run with other settings (mode, preloads, timeout, output cap, executor reuse or ignore patterns)"
                    .into(),
            ));
        }
        if record.total != theirs.total {
            let message = format!(
                "{} saw {} programs in the campaign, {} saw {}",
                s.path.display(),
                record.total,
                f.path.display(),
                theirs.total
            );
            if record.partition == Partition::Slice {
                return Err(MergeError::Input(format!(
                    "{message}: a slice partition deals out the whole list, so its shards must see the same one"
                )));
            }
            warn(format!(
                "{message}: the corpus changed between shards; programs are counted by their shards"
            ));
            campaign.total = None;
        }
    }
    Ok(campaign)
}

/// Merges one shard's file: finds the latest record of each program (checking that each belongs to
/// this shard), then copies those records to `out` and counts them into `stats`.
fn merge_shard(
    file: &ShardFile,
    campaign: &Campaign,
    mut out: Option<(&mut BufWriter<File>, &Path)>,
    stats: &mut Stats,
    mut report: Option<&mut crate::campaign::Campaign>,
    warn: &mut dyn FnMut(String),
) -> Result<ShardPart, MergeError> {
    let path = &file.path;
    let read = |source| MergeError::Read { path: path.clone(), source };
    let mut part = ShardPart {
        k: file.k,
        path: path.clone(),
        programs: file.first.as_ref().map_or(0, |r| r.programs),
        recorded: 0,
        engine_failed: 0,
        failures: 0,
        replaced: 0,
    };

    // First pass: the latest record of each program, by its offset in the file.
    let mut latest: HashMap<Box<[u8]>, u64> = HashMap::new();
    let mut reader = BufReader::with_capacity(256 * 1024, File::open(path).map_err(read)?);
    let mut line = Vec::new();
    let (mut offset, mut number) = (0u64, 0usize);
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(read)?;
        if n == 0 {
            break;
        }
        number += 1;
        let at = offset;
        offset += n as u64;
        if !line.ends_with(b"\n") {
            warn(format!(
                "{}: its last line (line {number}) is cut, as a writer killed mid-line leaves it; left out (that program counts as not run)",
                path.display()
            ));
            offset = at;
            break;
        }
        let key = match serde_json::from_slice::<Key<'_>>(&line) {
            Ok(key) if key.status == ENGINE_FAILED || status_of(&key.status).is_some() => key,
            Ok(key) => {
                warn(format!("{}:{number}: unknown status {:?}; line left out", path.display(), key.status));
                continue;
            }
            Err(e) => {
                warn(format!("{}:{number}: not a record ({e}); line left out", path.display()));
                continue;
            }
        };
        let program = key.program();
        if !campaign.unsharded {
            check_record(&key, &program, file, campaign, number)?;
        }
        if let Some(shard) = &key.shard {
            part.programs = shard.programs;
        }
        if let Some(_earlier) = latest.insert(program.into_owned().into_boxed_slice(), at) {
            part.replaced += 1;
        }
        if line.capacity() > 1 << 20 {
            line = Vec::new();
        }
    }
    let end = offset;
    let mut keep: Vec<u64> = latest.into_values().collect();
    drop(line);
    keep.sort_unstable();
    part.recorded = keep.len();
    if campaign.unsharded {
        part.programs = part.recorded;
    }

    // Second pass: copy the kept records, as they are, and count them.
    let source = File::open(path).map_err(read)?;
    let mut reader = BufReader::with_capacity(256 * 1024, Region::new(source, 0, end));
    let mut line = Vec::new();
    let mut offset = 0u64;
    let mut next = keep.iter().peekable();
    while next.peek().is_some() {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(read)?;
        if n == 0 {
            return Err(MergeError::Input(format!("{} changed while it was merged", path.display())));
        }
        let at = offset;
        offset += n as u64;
        if next.peek() != Some(&&at) {
            continue;
        }
        next.next();
        let view: View<'_> = serde_json::from_slice(&line)
            .map_err(|_| MergeError::Input(format!("{} changed while it was merged", path.display())))?;
        if let Some(report) = report.as_mut() {
            report.add_line(&line);
        }
        let program = runner_core::program_path::from_keys(&view.program, view.program_bytes.as_deref());
        if view.status == ENGINE_FAILED {
            let failure = view.engine_failure.clone().unwrap_or_else(|| EngineFailure {
                kind: runner_core::EngineFailureKind::Supervise,
                message: "no engine_failure in the record".into(),
            });
            stats.add_engine_failure(&program, view.index, view.worker, view.duration, &failure);
            part.engine_failed += 1;
        } else if let Some(status) = status_of(&view.status) {
            stats.add_result(Finished {
                program: &program,
                duration: view.duration,
                leaked_pipes: view.leaked_pipes,
                status,
                signature: view.signature.as_deref(),
                ignored_by: view.ignored_by.as_deref(),
                reproduce: view.reproduce.as_deref(),
                retries: view.retries.len(),
            });
            if status.is_failure() {
                part.failures += 1;
            }
        }
        if let Some((w, out_path)) = out.as_mut() {
            w.write_all(&line)
                .map_err(|source| MergeError::Write { path: out_path.to_path_buf(), source })?;
        }
        if line.capacity() > 1 << 20 {
            line = Vec::new();
        }
    }
    Ok(part)
}

/// Checks one record of a shard's file: it is of this shard and this campaign, and its program
/// belongs to this shard by the campaign's partition (so that no program is in two shards).
fn check_record(
    key: &Key<'_>,
    program: &[u8],
    file: &ShardFile,
    campaign: &Campaign,
    number: usize,
) -> Result<(), MergeError> {
    let at = || format!("{}:{number}", file.path.display());
    let Some(shard) = &key.shard else {
        return Err(MergeError::Input(format!(
            "{}: a record without a shard in the results of shard {}/{}",
            at(),
            file.k,
            file.n
        )));
    };
    if (shard.index, shard.count) != (file.k, file.n) {
        return Err(MergeError::Input(format!(
            "{}: a record of shard {}/{} in the results of shard {}/{}",
            at(),
            shard.index,
            shard.count,
            file.k,
            file.n
        )));
    }
    if campaign.root.as_ref() != Some(&shard.root)
        || campaign.partition != Some(shard.partition)
        || campaign.settings.as_ref() != Some(&shard.settings)
    {
        return Err(MergeError::Input(format!(
            "{}: a record of another campaign (its corpus root, partition or settings differ from the file's first record)",
            at()
        )));
    }
    let path = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(program));
    let owner = match shard.partition {
        // A hash shard's programs are those whose first choice it is, and those whose first choice
        // was full (a shard's size is in its records; with the corpus changed between shards, the
        // capacity is not known and the shards' sizes tell nothing).
        Partition::Hash => match campaign.total {
            Some(total) => check_hash_shard(
                relative_to(path, &shard.root),
                shard.index,
                shard.count,
                hash_capacity(total, shard.count),
                |k| campaign.sizes.get(k as usize).copied().flatten(),
            )
            .err()
            .unwrap_or(shard.index),
            None => shard.index,
        },
        Partition::Slice => match key.index {
            Some(i) => slice_shard(i, shard.count),
            None => {
                return Err(MergeError::Input(format!("{}: a record without its index", at())));
            }
        },
    };
    if owner != shard.index {
        return Err(MergeError::Input(format!(
            "{}: {} belongs to shard {owner}/{}, not {}/{}, by the {} partition: is it in two shards?",
            at(),
            path.display(),
            shard.count,
            shard.index,
            shard.count,
            shard.partition
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_core::shard::Source;
    use serde_json::json;

    /// The records of a file.
    fn lines(path: &Path) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    const ROOT: &str = "/c";

    /// Shard `k` of `n` with `programs` programs in a campaign of `total`.
    fn shard(k: u32, n: u32, programs: usize, total: usize) -> ShardRecord {
        ShardRecord {
            index: k,
            count: n,
            partition: Partition::Hash,
            source: Source::Flag,
            programs,
            total,
            root: ROOT.into(),
            mode: Mode::Warm,
            settings: "0000000000000001".into(),
        }
    }

    /// Programs `/c/p<i>.py` whose first choice is shard `k` of `n`, the first `count` of them (the
    /// shards of these tests have room, so each is in its first choice).
    fn programs_of(k: u32, n: u32, count: usize) -> Vec<String> {
        (0..)
            .map(|i| format!("p{i}.py"))
            .filter(|rel| runner_core::shard::first_choice(rel.as_bytes(), n) == k)
            .take(count)
            .map(|rel| format!("{ROOT}/{rel}"))
            .collect()
    }

    fn record(program: &str, status: &str, shard: &ShardRecord) -> String {
        let mut r = json!({"success": status == "passed", "stdout": "", "stderr": "", "returncode": 0,
            "program": program, "mode": "warm", "duration": 0.5, "index": 0, "worker": 0,
            "status": status, "shard": shard});
        if status == "failed" {
            r["returncode"] = json!(1);
            r["signature"] = json!("ValueError: x");
            r["reproduce"] = json!(format!("runner run {program}"));
        }
        r.to_string()
    }

    fn write(dir: &Path, name: &str, lines: &[String], tail: &str) -> PathBuf {
        let path = dir.join(name);
        let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        text.push_str(tail);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn run(files: &[PathBuf], outputs: &Outputs) -> (Result<Merged, MergeError>, Vec<String>) {
        let mut warnings = Vec::new();
        let merged = merge(files, outputs, &mut |w| warnings.push(w));
        (merged, warnings)
    }

    /// Two complete shards of 2 programs each, one of them resumed (a failure then a pass).
    fn campaign(dir: &Path) -> Vec<PathBuf> {
        let (s1, s2) = (shard(1, 2, 2, 4), shard(2, 2, 2, 4));
        let (a, b) = (programs_of(1, 2, 2), programs_of(2, 2, 2));
        vec![
            write(
                dir,
                "results-1-of-2.jsonl",
                &[record(&a[0], "failed", &s1), record(&a[1], "passed", &s1), record(&a[0], "passed", &s1)],
                "",
            ),
            write(
                dir,
                "results-2-of-2.jsonl",
                &[record(&b[0], "failed", &s2), record(&b[1], "passed", &s2)],
                "",
            ),
        ]
    }

    #[test]
    fn the_latest_record_of_each_program_is_kept_and_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = campaign(dir.path());
        let out = dir.path().join("merged.jsonl");
        let (merged, warnings) =
            run(&files, &Outputs { jsonl: Some(out.clone()), junit: None, report: false });
        let merged = merged.unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let s = merged.stats();
        assert_eq!((s.total, s.done, s.count(Status::Passed), s.count(Status::Failed)), (4, 4, 3, 1));
        assert_eq!(s.error_count(), 0);
        let records = lines(&out);
        assert_eq!(records.len(), 4);
        let a0 = &programs_of(1, 2, 1)[0];
        let kept: Vec<&serde_json::Value> = records.iter().filter(|r| r["program"] == json!(a0)).collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0]["status"], "passed", "the later record wins");
        let buckets = s.buckets();
        assert_eq!(buckets.len(), 1);
        assert_eq!(buckets[0].1.reproduce, format!("runner run {}", programs_of(2, 2, 1)[0]));
    }

    #[test]
    fn a_missing_shard_and_an_unfinished_one_are_counted_program_by_program() {
        let dir = tempfile::tempdir().unwrap();
        let s1 = shard(1, 3, 3, 9);
        let a = programs_of(1, 3, 2);
        let one = write(
            dir.path(),
            "results-1-of-3.jsonl",
            &[record(&a[0], "passed", &s1), record(&a[1], "passed", &s1)],
            "",
        );
        // Shard 2 was killed before its first record; shard 3 has no file at all.
        let two = write(dir.path(), "results-2-of-3.jsonl", &[], "");
        let (merged, _) = run(&[one, two], &Outputs::default());
        let merged = merged.unwrap();
        let errors = merged.stats().errors().join("\n");
        assert!(
            errors.contains("shard 1/3") && errors.contains("1 of its 3 programs have no result"),
            "{errors}"
        );
        assert!(
            errors.contains(
                "1 of 3 shards have no results file (3/3); the files of shards 2/3 have no records: \
                 6 programs of the campaign's 9 did not run"
            ),
            "{errors}"
        );
        assert_eq!(merged.stats().total, 9);
    }

    #[test]
    fn a_cut_last_line_is_left_out_with_a_warning_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = campaign(dir.path());
        let b = programs_of(2, 2, 3);
        let cut = record(&b[2], "passed", &shard(2, 2, 2, 4));
        let mut text = std::fs::read_to_string(&files[1]).unwrap();
        text.push_str(&cut[..cut.len() / 2]);
        std::fs::write(&files[1], text).unwrap();
        let (merged, warnings) = run(&files, &Outputs::default());
        assert_eq!(merged.unwrap().stats().done, 4);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("results-2-of-2.jsonl") && warnings[0].contains("is cut"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_program_whose_first_choice_was_full_is_accepted_in_the_next_shard_and_only_then() {
        // Five programs over 2 shards: a shard holds at most 3. Four have shard 1 as their first
        // choice, so one of them went on to shard 2.
        let dir = tempfile::tempdir().unwrap();
        let ones = programs_of(1, 2, 4);
        let two = programs_of(2, 2, 1);
        let merged = |name: &str, first_size: usize| {
            let (s1, s2) = (shard(1, 2, first_size, 5), shard(2, 2, 2, 5));
            let files = [
                write(
                    dir.path(),
                    &format!("{name}-1.jsonl"),
                    &ones[..3].iter().map(|p| record(p, "passed", &s1)).collect::<Vec<_>>(),
                    "",
                ),
                write(
                    dir.path(),
                    &format!("{name}-2.jsonl"),
                    &[record(&two[0], "passed", &s2), record(&ones[3], "passed", &s2)],
                    "",
                ),
            ];
            run(&files, &Outputs { jsonl: None, junit: None, report: false }).0
        };
        assert_eq!(merged("full", 3).unwrap().stats().done, 5);
        // Had shard 1 room (its records say it held 2), the program belonged there.
        let e = merged("room", 2).err().expect("merged a program its first choice had room for");
        assert!(e.to_string().contains("belongs to shard 1/2, not 2/2"), "{e}");
    }

    #[test]
    fn files_that_are_not_one_campaign_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let files = campaign(dir.path());
        let out = dir.path().join("merged.jsonl");
        std::fs::write(&out, "an earlier merge\n").unwrap();
        let a = programs_of(1, 3, 1);
        let other_n = write(dir.path(), "other-n.jsonl", &[record(&a[0], "passed", &shard(1, 3, 1, 3))], "");
        let mut elsewhere = shard(1, 2, 2, 4);
        elsewhere.root = "/d".into();
        let moved = write(dir.path(), "moved.jsonl", &[record("/d/x.py", "passed", &elsewhere)], "");
        let mut settings = shard(2, 2, 2, 4);
        settings.settings = "0000000000000002".into();
        let b = programs_of(2, 2, 1);
        let other_settings = write(dir.path(), "settings.jsonl", &[record(&b[0], "passed", &settings)], "");
        let wrong = programs_of(1, 2, 1);
        let misplaced =
            write(dir.path(), "misplaced.jsonl", &[record(&wrong[0], "passed", &shard(2, 2, 1, 4))], "");
        let cases: Vec<(Vec<PathBuf>, &str)> = vec![
            (vec![files[0].clone(), other_n], "N differs"),
            (vec![files[0].clone(), files[0].clone()], "is in two files"),
            (vec![files[1].clone(), moved], "its corpus root is"),
            (vec![files[0].clone(), other_settings], "other settings"),
            (vec![files[0].clone(), misplaced], "belongs to shard 1/2, not 2/2"),
        ];
        for (inputs, want) in cases {
            let (merged, _) = run(&inputs, &Outputs { jsonl: Some(out.clone()), junit: None, report: false });
            let e = merged.err().unwrap_or_else(|| panic!("{want}: merged"));
            let text = e.to_string();
            assert!(text.contains(want), "{want}: {text}");
            assert!(!text.contains('\n'), "one line: {text}");
            assert_eq!(e.exit_code(), exit_code::USAGE);
            assert_eq!(
                std::fs::read_to_string(&out).unwrap(),
                "an earlier merge\n",
                "{want}: the earlier merge is kept"
            );
        }
    }

    #[test]
    fn a_batch_without_shards_merges_alone() {
        let dir = tempfile::tempdir().unwrap();
        let plain = |p: &str, status: &str| {
            json!({"success": true, "program": p, "mode": "warm", "duration": 0.1, "status": status})
                .to_string()
        };
        let file =
            write(dir.path(), "results.jsonl", &[plain("/x/a.py", "passed"), plain("/x/b.py", "passed")], "");
        let (merged, _) = run(std::slice::from_ref(&file), &Outputs::default());
        let merged = merged.unwrap();
        assert_eq!((merged.stats().done, merged.stats().error_count()), (2, 0));
        let files = campaign(dir.path());
        let (merged, _) = run(&[file, files[0].clone()], &Outputs::default());
        assert!(merged.err().unwrap().to_string().contains("without --shard"));
    }

    #[test]
    fn shard_numbers_come_from_a_name_only_when_there_are_no_records() {
        assert_eq!(name_shard(Path::new("/o/results-3-of-8.jsonl")), Some((3, 8)));
        assert_eq!(name_shard(Path::new("x-1-of-1.jsonl")), Some((1, 1)));
        for bad in ["results.jsonl", "results-9-of-8.jsonl", "results-0-of-8.jsonl", "r-3-of-8.json"] {
            assert_eq!(name_shard(Path::new(bad)), None, "{bad}");
        }
    }
}
