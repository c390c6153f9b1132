//! `--known-issues FILE`: the known-issue list of a campaign kept as data (torchfuzz keeps its list in
//! its source), each entry a pattern, the issue it belongs to and a note. A failure whose output
//! matches an entry is ignored, as with `--ignore-pattern`; the summary and the records say which
//! entry it hit, and the summary lists the entries that were not hit at all (a fixed bug, or a pattern
//! that went stale).
//!
//! The file is TOML:
//!
//! ```toml
//! [[issue]]
//! pattern = 'torch\._inductor\.exc\.InductorError: AssertionError: -1'
//! issue = "https://github.com/pytorch/pytorch/issues/000000"
//! note = "an assertion in Inductor's index simplification"
//! ```

use std::path::Path;

use runner_core::classify::{IgnorePatterns, KnownIssue};
use serde::Deserialize;

/// The file's shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "issue")]
    issues: Vec<Entry>,
}

/// One entry of the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    pattern: String,
    issue: Option<String>,
    note: Option<String>,
}

/// Adds the entries of the known-issues file `path` to `patterns`; the error says what is wrong in
/// one line, naming the file.
pub fn load(path: &Path, patterns: &mut IgnorePatterns) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    add(&text, patterns).map_err(|e| format!("{}: {e}", path.display()))
}

fn add(text: &str, patterns: &mut IgnorePatterns) -> Result<(), String> {
    let file: File = toml::from_str(text).map_err(|e| {
        // TOML's own rendering is a picture over several lines; this is its message and its line.
        let line = e.span().map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let what = e.message().trim().replace('\n', " ");
        match line {
            Some(line) => format!("not a known-issues file: {what} (line {line})"),
            None => format!("not a known-issues file: {what}"),
        }
    })?;
    for (i, entry) in file.issues.into_iter().enumerate() {
        let issue = KnownIssue { issue: entry.issue, note: entry.note };
        patterns.push(&entry.pattern, issue).map_err(|e| {
            let text = e.to_string();
            let why =
                text.lines().last().unwrap_or("invalid").trim().trim_start_matches("error: ").to_string();
            format!("issue {}: pattern {:?} is not a valid regex: {why}", i + 1, entry.pattern)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_known_issue_files_are_valid() {
        for (name, text) in [
            ("examples/known_issues.toml", include_str!("../../examples/known_issues.toml")),
            (
                "contrib/torchfuzz/known_issues.toml",
                include_str!("../../contrib/torchfuzz/known_issues.toml"),
            ),
        ] {
            let mut p = IgnorePatterns::default();
            add(text, &mut p).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!p.is_empty(), "{name} has entries");
            assert!((0..p.len()).all(|i| p.issue(i).note.is_some()), "{name}: every entry says what it is");
        }
    }

    #[test]
    fn entries_follow_the_command_line_patterns_with_what_they_say_of_themselves() {
        let mut p = IgnorePatterns::new(&["one-off".to_string()]).unwrap();
        let text = "[[issue]]\npattern = 'InductorError: AssertionError: -1'\nissue = \"#123\"\nnote = \"known\"\n\n[[issue]]\npattern = 'CUDA error: an illegal memory access'\n";
        add(text, &mut p).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p.pattern(1), "InductorError: AssertionError: -1");
        assert_eq!(p.issue(1), &KnownIssue { issue: Some("#123".into()), note: Some("known".into()) });
        assert_eq!(p.issue(2), &KnownIssue::default());
        assert_eq!(p.issue(0), &KnownIssue::default());
    }

    #[test]
    fn a_bad_file_says_what_is_wrong_in_one_line() {
        let mut p = IgnorePatterns::default();
        for (text, says) in [
            ("[[issue]]\npattern = '('\n", "issue 1: pattern \"(\" is not a valid regex"),
            ("[[issue]]\nissue = '#1'\n", "missing field `pattern`"),
            ("[[issue]]\npattern = 'x'\nticket = 1\n", "unknown field `ticket`"),
            ("not toml at all", "not a known-issues file"),
        ] {
            let e = add(text, &mut p).unwrap_err();
            assert!(e.contains(says) && !e.contains('\n'), "{text:?}: {e}");
        }
    }
}
