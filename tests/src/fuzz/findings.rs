//! Findings: a difference between a mode and python, shrunk, and written down where anyone can
//! reproduce it: `fuzz/findings/<seed>-<index>/` holds the programs (run in file-name order in one
//! batch; the last is the one that differs), `expected.json` (python's result), `actual.json`
//! (runner's record) and a `README.md` with the commands that reproduce both. The results in those
//! files come from re-running the programs at that location, so every path in them is right.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::grammar::{Program, Template};
use super::oracle::{differing_fields, Mode, Oracle, Outcome, Settings};
use super::FuzzError;

/// A difference between a mode and python.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The campaign seed.
    pub seed: u64,
    /// The program that differs.
    pub index: u64,
    /// The template of the campaign.
    pub template: Template,
    /// The mode that differs.
    pub mode: Mode,
    /// The batch's environment and preloads.
    pub settings: Settings,
    /// What differs: `returncode`, `stdout`, `stderr`.
    pub fields: Vec<&'static str>,
    /// Only warm mode's first attempt differed: a fresh executor then gave python's result, which is
    /// what runner reported (a leak between programs that the confirmation re-run caught).
    pub recovered: bool,
    /// The reproduction: the programs that must run before it in the same warm executor, then the
    /// program that differs.
    pub programs: Vec<Program>,
    /// python's result.
    pub expected: Outcome,
    /// runner's result (the differing attempt).
    pub actual: Outcome,
    /// runner's whole record.
    pub actual_record: serde_json::Value,
    /// python's and runner's results when the difference was first seen, in the campaign's batch (the
    /// paths in them are the batch's).
    pub first_seen: (Outcome, Outcome),
    /// The difference showed again when the written reproduction was run (and python agreed with
    /// itself on it); false for a difference that did not come back.
    pub reproduced: bool,
    /// Blocks and programs before shrinking.
    pub original_blocks: usize,
    /// Programs before shrinking (the target and the programs that ran before it).
    pub original_programs: usize,
    /// Candidates tried while shrinking.
    pub shrink_runs: usize,
    /// Where it was written.
    pub dir: Option<PathBuf>,
    /// Other programs (and modes) whose difference looked like this one and were not shrunk.
    pub duplicates: Vec<(u64, Mode)>,
}

/// What a finding is made of, to tell a new difference that is probably the same bug.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The mode.
    pub mode: Mode,
    /// The differing fields.
    pub fields: Vec<&'static str>,
    /// The behaviours of the predecessors.
    pub before: BTreeSet<&'static str>,
    /// The behaviours of the program that differs.
    pub target: BTreeSet<&'static str>,
}

impl Signature {
    /// Whether a difference (in `mode`, of `fields`, by a program with behaviours `target` after
    /// programs with behaviours `before`) probably is this finding again: the same fields differ and
    /// it has every behaviour the shrunk reproduction needed. A finding without predecessors shows in
    /// every mode, so the mode only has to match when it has some.
    pub fn covers(
        &self,
        mode: Mode,
        fields: &[&'static str],
        before: &BTreeSet<&'static str>,
        target: &BTreeSet<&'static str>,
    ) -> bool {
        (self.mode == mode || self.before.is_empty())
            && self.fields == fields
            && self.target.is_subset(target)
            && self.before.is_subset(before)
    }
}

impl Finding {
    /// The program whose result differs.
    pub fn target(&self) -> &Program {
        self.programs.last().expect("a finding has a program")
    }

    /// `<seed>-<index>`: the directory name.
    pub fn name(&self) -> String {
        format!("{}-{}", self.seed, self.index)
    }

    /// Its signature.
    pub fn signature(&self) -> Signature {
        let (before, target) = self.programs.split_at(self.programs.len() - 1);
        Signature {
            mode: self.mode,
            fields: self.fields.clone(),
            before: before.iter().flat_map(Program::kinds).collect(),
            target: target[0].kinds().collect(),
        }
    }

    /// One line: mode, fields, behaviours.
    pub fn title(&self) -> String {
        let mut behaviours: Vec<String> = Vec::new();
        for p in &self.programs {
            behaviours.push(p.kinds().collect::<Vec<_>>().join(" + "));
        }
        let behaviours = behaviours.join("  ->  ");
        format!(
            "{} mode: {} differ{}{} [{}]",
            self.mode.as_str(),
            self.fields.join(", "),
            if self.recovered { " (first warm attempt only; the fresh re-run matched)" } else { "" },
            if self.reproduced { "" } else { " (did not reproduce on a re-run)" },
            if behaviours.is_empty() { "empty program".to_string() } else { behaviours },
        )
    }

    /// The file names of the reproduction, in run order.
    pub fn file_names(&self) -> Vec<String> {
        self.programs.iter().enumerate().map(|(rank, p)| format!("{rank:02}_{:08}.py", p.index)).collect()
    }

    /// The README: what differs, how to reproduce it, the programs, both results and a diff.
    pub fn report(&self, python: &Path, runner: &Path) -> String {
        let mut out = String::new();
        let files = self.file_names();
        let target = files.last().expect("a file per program");
        let _ = writeln!(out, "# Finding {}: {}\n", self.name(), self.title());
        let _ = writeln!(
            out,
            "Found by `cargo xtask fuzz --seed {} --template {}` (program {}), batch settings: {}. Shrunk \
             from {} programs ({} blocks) in {} runs.\n",
            self.seed,
            self.template.name(),
            self.index,
            self.settings.describe(),
            self.original_programs,
            self.original_blocks,
            self.shrink_runs,
        );
        if self.programs.len() > 1 {
            let _ = writeln!(
                out,
                "`{target}` differs only after the other programs ran before it in the same warm executor: \
                 run them as one batch with one worker (runner sorts the files, so the names give the order).\n"
            );
        }
        if !self.reproduced {
            let _ = writeln!(
                out,
                "**This difference did not come back when the files below were run again.** When it was seen \
                 (in the campaign's batch directory):\n\n```diff\n{}```\n",
                diff_report(&self.first_seen.0, &self.first_seen.1)
            );
        }
        let dir = self.dir.as_deref().map(|d| d.display().to_string()).unwrap_or_else(|| ".".to_string());
        let env = self.settings.env_prefix();
        let preload = if self.settings.preload.is_empty() {
            String::new()
        } else {
            format!(" --preload {}", self.settings.preload.join(","))
        };
        let _ = writeln!(out, "## Reproduce\n\n```sh\ncd {dir}");
        let _ = writeln!(out, "{env} {} {target}   # expected", python.display());
        let _ = writeln!(
            out,
            "{env} {} batch --workers 1 --mode {} --python {}{preload} --output actual.jsonl {}\n```\n",
            runner.display(),
            self.mode.as_str(),
            python.display(),
            files.join(" "),
        );
        for (file, program) in files.iter().zip(&self.programs) {
            let _ = writeln!(out, "## `{file}`\n\n```python\n{}```\n", program.render());
        }
        for (what, outcome) in [("Expected (python)", &self.expected), ("Actual (runner)", &self.actual)] {
            let _ = writeln!(
                out,
                "## {what}\n\nreturncode {}{}\n",
                outcome.returncode,
                if outcome.timed_out { " (timed out)" } else { "" }
            );
            let _ = writeln!(
                out,
                "stdout:\n```text\n{}```\n\nstderr:\n```text\n{}```\n",
                fence(&outcome.stdout),
                fence(&outcome.stderr)
            );
        }
        let _ = writeln!(
            out,
            "## Diff (- expected, + actual)\n\n```diff\n{}```",
            diff_report(&self.expected, &self.actual)
        );
        out
    }
}

/// The differing fields of two outcomes as a diff.
pub fn diff_report(expected: &Outcome, actual: &Outcome) -> String {
    let mut out = String::new();
    for field in differing_fields(expected, actual) {
        match field {
            "returncode" => {
                let _ = writeln!(out, "returncode: - {} + {}", expected.returncode, actual.returncode);
            }
            "stdout" => {
                let _ = writeln!(out, "stdout:\n{}", crate::line_diff(&expected.stdout, &actual.stdout, 20));
            }
            _ => {
                let _ = writeln!(out, "stderr:\n{}", crate::line_diff(&expected.stderr, &actual.stderr, 20));
            }
        }
    }
    out
}

/// Text for a fenced block: control characters other than newlines and tabs escaped (`\x00`), a
/// final newline, and no line that would close the fence.
fn fence(s: &str) -> String {
    let mut escaped = String::new();
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    let mut s = escaped.replace("```", "`\u{200b}``");
    if !s.is_empty() && !s.ends_with('\n') {
        s.push_str("\n[no newline at end]\n");
    }
    s
}

/// Writes `finding` into `dir` (replacing what a previous campaign left there), re-runs it there and
/// records the results of that run in the finding and the files.
pub fn record(finding: &mut Finding, dir: &Path, oracle: &Oracle) -> Result<(), FuzzError> {
    let io = |what: String| move |source| FuzzError::Io { what, source };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(format!("removing {}", dir.display())))?;
    }
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let files: Vec<PathBuf> = finding.file_names().iter().map(|f| dir.join(f)).collect();
    for (file, program) in files.iter().zip(&finding.programs) {
        std::fs::write(file, program.render()).map_err(io(format!("writing {}", file.display())))?;
    }
    let target = files.last().expect("a file per program");
    let first = oracle.python(target, &finding.settings)?;
    let second = oracle.python(target, &finding.settings)?;
    let records = oracle.runner_batch(finding.mode, &files, &finding.settings)?;
    let record = records.last().expect("a record per program");
    let differing = record.observed().find(|o| !differing_fields(&first, o).is_empty());
    finding.reproduced = first == second && differing.is_some();
    if finding.reproduced {
        // What the written reproduction shows, which may not be how the campaign first saw it.
        finding.recovered = differing_fields(&first, &record.outcome).is_empty();
    }
    finding.expected = first;
    finding.actual = differing.unwrap_or(&record.outcome).clone();
    finding.actual_record = record.raw.clone();
    finding.dir = Some(dir.to_path_buf());

    let json = |v: &serde_json::Value| serde_json::to_string_pretty(v).expect("JSON values serialise") + "\n";
    let expected = serde_json::to_value(&finding.expected).expect("outcomes serialise");
    std::fs::write(dir.join("expected.json"), json(&expected)).map_err(io("writing expected.json".into()))?;
    std::fs::write(dir.join("actual.json"), json(&finding.actual_record))
        .map_err(io("writing actual.json".into()))?;
    std::fs::write(dir.join("README.md"), finding.report(&oracle.python, &oracle.runner))
        .map_err(io("writing README.md".into()))?;
    let about = serde_json::json!({
        "seed": finding.seed,
        "index": finding.index,
        "template": finding.template.name(),
        "mode": finding.mode,
        "settings": finding.settings,
        "programs": finding.file_names(),
    });
    std::fs::write(dir.join(FINDING_FILE), json(&about)).map_err(io(format!("writing {FINDING_FILE}")))?;
    Ok(())
}

/// The machine-readable description of a finding directory: mode, settings, programs in run order.
pub const FINDING_FILE: &str = "finding.json";

/// A finding as written under `fuzz/findings/`, to run again.
#[derive(Clone, Debug)]
pub struct Written {
    /// `<seed>-<index>`.
    pub name: String,
    /// The mode that differed.
    pub mode: Mode,
    /// The batch's environment and preloads.
    pub settings: Settings,
    /// The programs, in run order (the last is the one that differed).
    pub programs: Vec<PathBuf>,
}

/// What running a written finding again gave.
#[derive(Clone, Debug)]
pub struct Replay {
    /// python's result for the last program.
    pub expected: Outcome,
    /// runner's results for it: the reported one, and the first warm attempt when it was re-run.
    pub observed: Vec<Outcome>,
}

impl Replay {
    /// The fields in which some observed result differs from python's.
    pub fn differing_fields(&self) -> Vec<&'static str> {
        let mut fields: Vec<&'static str> =
            self.observed.iter().flat_map(|o| differing_fields(&self.expected, o)).collect();
        fields.sort();
        fields.dedup();
        fields
    }
}

/// `finding.json` as stored (the preload names are owned here; [`Settings`] borrows static ones).
#[derive(serde::Deserialize)]
struct FindingFile {
    mode: String,
    settings: FileSettings,
    programs: Vec<String>,
}

#[derive(serde::Deserialize)]
struct FileSettings {
    unbuffered: bool,
    hash_seed: Option<u32>,
    preload: Vec<String>,
}

/// Reads `finding.json` of a finding directory.
pub fn load(dir: &Path) -> Result<Written, FuzzError> {
    let path = dir.join(FINDING_FILE);
    let bad = |what: String| FuzzError::Io {
        what: format!("reading {}", path.display()),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, what),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|source| FuzzError::Io { what: format!("reading {}", path.display()), source })?;
    let file: FindingFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let mode = Mode::from_name(&file.mode).ok_or_else(|| bad(format!("no mode {:?}", file.mode)))?;
    if file.programs.is_empty() {
        return Err(bad("no programs".to_string()));
    }
    let settings = Settings {
        unbuffered: file.settings.unbuffered,
        hash_seed: file.settings.hash_seed,
        // A test process reads a few dozen findings: leaking their preload names is cheaper than
        // giving Settings a lifetime.
        preload: file.settings.preload.into_iter().map(|m| &*Box::leak(m.into_boxed_str())).collect(),
    };
    let programs = file.programs.iter().map(|p| dir.join(p)).collect();
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Written { name, mode, settings, programs })
}

/// Runs a written finding again in a copy of its programs under `work` (so that python and runner see
/// the same paths, and the finding's directory stays as it is): python on the last program, runner
/// on all of them as one batch in the finding's mode.
pub fn replay(finding: &Written, oracle: &Oracle, work: &Path) -> Result<Replay, FuzzError> {
    let io = |what: String| move |source| FuzzError::Io { what, source };
    let dir = work.join(&finding.name);
    std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let mut copies = Vec::new();
    for program in &finding.programs {
        let copy = dir.join(program.file_name().expect("a program is a file"));
        std::fs::copy(program, &copy).map_err(io(format!("copying {}", program.display())))?;
        copies.push(copy);
    }
    let target = copies.last().expect("a finding has a program");
    let expected = oracle.python(target, &finding.settings)?;
    let records = oracle.runner_batch(finding.mode, &copies, &finding.settings)?;
    let record = records.last().expect("a record per program");
    Ok(Replay { expected, observed: record.observed().cloned().collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diff_shows_the_differing_lines_with_context() {
        assert_eq!(crate::line_diff("a\nb\nc\n", "a\nB\nc\n", 20), "  a\n- b\n+ B\n  c\n");
        assert_eq!(crate::line_diff("x\n", "x", 20), "- x\n+ x [no newline]\n");
    }

    #[test]
    fn a_signature_covers_differences_with_the_same_behaviours() {
        let set = |k: &[&'static str]| k.iter().copied().collect::<BTreeSet<_>>();
        let sig = Signature {
            mode: Mode::Warm,
            fields: vec!["stdout"],
            before: set(&["mutate.cwd"]),
            target: set(&["check.cwd"]),
        };
        assert!(sig.covers(
            Mode::Warm,
            &["stdout"],
            &set(&["mutate.cwd", "out.print"]),
            &set(&["check.cwd", "x"])
        ));
        assert!(!sig.covers(Mode::Fork, &["stdout"], &set(&["mutate.cwd"]), &set(&["check.cwd"])));
        assert!(!sig.covers(Mode::Warm, &["stderr"], &set(&["mutate.cwd"]), &set(&["check.cwd"])));
        assert!(!sig.covers(Mode::Warm, &["stdout"], &set(&[]), &set(&["check.cwd"])));
    }
}
