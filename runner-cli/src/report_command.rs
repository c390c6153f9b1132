//! `runner report`: a campaign's report made afterwards from its records (the JSONL of a batch, of a
//! resumed batch or of `runner merge`): Markdown, the HTML page, or one bucket's issue body. A
//! program recorded more than once (a resumed batch ran it again, shards overlap) counts by its
//! latest record, found in a first pass that keeps a hash and a position per program; the second
//! pass reads each such record once. Memory is that index plus the bounded [`Campaign`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use runner_core::classify::{IgnorePatterns, KnownIssue};

use crate::campaign::{is_failure, Campaign, Line};
use crate::cli::ReportCmd;
use crate::error::CliError;
use crate::exit_code;
use crate::settings::SettingsError;

/// Runs the command; returns the exit code: 0 when no program failed, 1 otherwise (as the batch
/// would), 0 after printing a bucket.
pub fn execute(cmd: ReportCmd) -> Result<i32, CliError> {
    let files = input_files(&cmd.inputs)?;
    let mut known = IgnorePatterns::default();
    if let Some(path) = &cmd.known_issues {
        crate::known_issues::load(path, &mut known)
            .map_err(|reason| SettingsError::BadValue { flag: "--known-issues", reason })?;
    }
    let entries = (0..known.len()).map(|i| (known.pattern(i).to_string(), known.issue(i).clone()));
    let mut campaign = Campaign::new(entries);
    read(&files, &known, &mut campaign)?;
    let title = title(&files);

    if let Some(which) = &cmd.bucket {
        let (n, bucket) =
            campaign.bucket(which).map_err(|reason| SettingsError::BadValue { flag: "--bucket", reason })?;
        let text = if cmd.title {
            format!("{}\n", crate::markdown::issue_title(bucket))
        } else {
            crate::markdown::issue_body(n, bucket, std::fs::read(&bucket.example.program))
        };
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        return Ok(exit_code::PASSED);
    }
    let remake = remake_command(&cmd);
    if let Some(path) = &cmd.html {
        let page = crate::html::render(
            &campaign,
            &crate::html::Source { title: &title, command: None, remake: Some(&remake) },
        );
        crate::output_file::write_whole(path, page.as_bytes())?;
    }
    match &cmd.markdown {
        Some(path) => {
            crate::output_file::write_whole(path, crate::markdown::report(&campaign, &title).as_bytes())?
        }
        None if cmd.html.is_none() => crate::output_file::write_whole(
            Path::new("-"),
            crate::markdown::report(&campaign, &title).as_bytes(),
        )?,
        None => {}
    }
    if campaign.unreadable > 0 {
        eprintln!(
            "runner: warning: {} lines of the results were not records and were left out",
            campaign.unreadable
        );
    }
    Ok(if campaign.tally.failures() > 0 { exit_code::FAILED } else { exit_code::PASSED })
}

/// The files named, a directory standing for its `*.jsonl` files (sorted).
fn input_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, SettingsError> {
    let mut files = Vec::new();
    for input in inputs {
        let bad = |reason: String| SettingsError::BadValue { flag: "RESULTS", reason };
        let meta =
            std::fs::metadata(input).map_err(|e| bad(format!("cannot read {}: {e}", input.display())))?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| bad(format!("cannot read {}: {e}", input.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
                .collect();
            if found.is_empty() {
                return Err(bad(format!("{} holds no .jsonl results files", input.display())));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// The page's title: the results file, or how many there are.
fn title(files: &[PathBuf]) -> String {
    match files {
        [one] => one.display().to_string(),
        many => format!("{} results files", many.len()),
    }
}

/// The command that makes the page again.
fn remake_command(cmd: &ReportCmd) -> String {
    let mut s = String::from("runner report");
    for input in &cmd.inputs {
        s.push(' ');
        s.push_str(&crate::text::shell_quote_path(input));
    }
    if let Some(k) = &cmd.known_issues {
        s.push_str(" --known-issues ");
        s.push_str(&crate::text::shell_quote_path(k));
    }
    s.push_str(" --html FILE");
    s
}

/// What identifies a record's program.
#[derive(Deserialize)]
struct Identity<'a> {
    #[serde(borrow)]
    program: std::borrow::Cow<'a, str>,
    #[serde(default)]
    program_bytes: Option<Vec<u8>>,
}

/// The outputs of a failure, whole, for judging it against known issues.
#[derive(Deserialize, Default)]
struct Outputs {
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: String,
}

fn key(line: &[u8]) -> Option<u64> {
    let id: Identity<'_> = serde_json::from_slice(line).ok()?;
    let bytes = id.program_bytes.unwrap_or_else(|| id.program.as_bytes().to_vec());
    Some(runner_core::shard::fnv1a(&bytes))
}

/// Calls `f` with each whole line of `path` and its offset; a last line without its newline (a
/// batch killed while writing, a copy cut short) is left out with a warning.
fn each_line(path: &Path, mut f: impl FnMut(u64, &[u8])) -> Result<(), CliError> {
    let file = File::open(path).map_err(|e| SettingsError::BadValue {
        flag: "RESULTS",
        reason: format!("cannot read {}: {e}", path.display()),
    })?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    let mut offset = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            eprintln!("runner: warning: {} ends in a cut line ({n} bytes), left out", path.display());
            return Ok(());
        }
        f(offset, &line);
        offset += n as u64;
    }
}

/// Reads the latest record of each program of `files` into `campaign`, judging failures against
/// `known` when it has entries.
fn read(files: &[PathBuf], known: &IgnorePatterns, campaign: &mut Campaign) -> Result<(), CliError> {
    let mut latest: HashMap<u64, (usize, u64)> = HashMap::new();
    for (i, path) in files.iter().enumerate() {
        each_line(path, |offset, line| {
            if let Some(k) = key(line) {
                latest.insert(k, (i, offset));
            }
        })?;
    }
    for (i, path) in files.iter().enumerate() {
        each_line(path, |offset, line| {
            let Some(k) = key(line) else {
                if !line.trim_ascii().is_empty() {
                    campaign.unreadable += 1;
                }
                return;
            };
            if latest.get(&k) != Some(&(i, offset)) {
                return;
            }
            let Ok(mut record) = serde_json::from_slice::<Line<'_>>(line) else {
                campaign.unreadable += 1;
                return;
            };
            if !known.is_empty() && is_failure(&record.status) && record.status != "engine_failed" {
                let out: Outputs = serde_json::from_slice(line).unwrap_or_default();
                if let Some(hit) = known.matching_output(&out.stdout, &out.stderr) {
                    judge_known(&mut record, known.pattern(hit), known.issue(hit));
                }
            }
            campaign.add(&record);
        })?;
    }
    Ok(())
}

/// Makes a failure that a known issue matches an ignored one, as the batch would have.
fn judge_known(record: &mut Line<'_>, pattern: &str, issue: &KnownIssue) {
    record.status = "ignored".into();
    record.signature = None;
    record.ignored_by = Some(pattern.to_string());
    record.known_issue = Some(crate::campaign::KnownIssueHit {
        pattern: None,
        issue: issue.issue.clone(),
        note: issue.note.clone(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_record_of_a_program_counts_and_known_issues_judge_failures_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"program":"/a.py","status":"engine_failed","duration":0.1}"#,
                "\n",
                r#"{"program":"/b.py","status":"failed","duration":0.1,"returncode":1,"signature":"E: x","stderr":"Traceback (most recent call last):\nE: x\n"}"#,
                "\n",
                r#"{"program":"/a.py","status":"passed","duration":0.1,"returncode":0}"#,
                "\n",
                r#"{"program":"/c.py","sta"#
            ),
        )
        .unwrap();
        let mut known = IgnorePatterns::default();
        known.push("E: x", KnownIssue { issue: Some("#1".into()), note: None }).unwrap();
        let mut c =
            Campaign::new([("E: x".to_string(), KnownIssue { issue: Some("#1".into()), note: None })]);
        read(&[path], &known, &mut c).unwrap();
        assert_eq!(c.records, 2, "a.py once, by its latest record; the cut line left out");
        assert_eq!((c.tally.count("passed"), c.tally.count("ignored"), c.tally.failures()), (1, 1, 0));
        assert_eq!(c.known()[0].hits, 1);
        assert!(c.buckets().is_empty());
    }

    #[test]
    fn a_directory_stands_for_its_results_files_and_a_missing_input_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("a.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        let files = input_files(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(files, [dir.path().join("a.jsonl"), dir.path().join("b.jsonl")]);
        let err = input_files(&[dir.path().join("nope.jsonl")]).unwrap_err().to_string();
        assert!(err.contains("cannot read") && err.contains("nope.jsonl"), "{err}");
    }
}
