//! Sorting results into what a campaign wants to know: passed, failed, crashed (signal), timed out, or
//! ignored (a failure matching a known-issue pattern, as torchfuzz's ignore list does), and grouping
//! failures into buckets by signature so 500 failures read as the handful of bugs they are.

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::RunResult;

/// The verdict on one program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Exit code 0.
    Passed,
    /// Exit code 0 on a retry after failed runs (`--retries`): counts as passed, and is listed.
    Flaky,
    /// A failure whose output matches an ignore pattern; counts as passed.
    Ignored,
    /// A non-zero exit code.
    Failed,
    /// Killed by a signal it did not ask for from the runner (segfault, abort, ...).
    Crashed,
    /// Killed by the runner at the timeout.
    TimedOut,
}

impl Status {
    /// Whether this verdict makes the run fail.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Crashed | Status::TimedOut)
    }

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Flaky => "flaky",
            Status::Ignored => "ignored",
            Status::Failed => "failed",
            Status::Crashed => "crashed",
            Status::TimedOut => "timed_out",
        }
    }
}

/// Known-issue patterns: a failure whose stdout or stderr matches one is ignored. An entry may say
/// which issue it belongs to (a known-issues file), or be a bare pattern (`--ignore-pattern`).
#[derive(Clone, Debug, Default)]
pub struct IgnorePatterns {
    patterns: Vec<Regex>,
    issues: Vec<KnownIssue>,
}

/// What a known-issue entry says of itself, besides its pattern.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownIssue {
    /// The issue it belongs to: a link or an id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// A word on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl IgnorePatterns {
    /// Compiles the patterns; the error names the bad one.
    pub fn new(patterns: &[String]) -> Result<Self, regex::Error> {
        let patterns: Vec<Regex> = patterns.iter().map(|p| Regex::new(p)).collect::<Result<_, _>>()?;
        let issues = vec![KnownIssue::default(); patterns.len()];
        Ok(IgnorePatterns { patterns, issues })
    }

    /// Adds a known issue's pattern after the others.
    pub fn push(&mut self, pattern: &str, issue: KnownIssue) -> Result<(), regex::Error> {
        self.patterns.push(Regex::new(pattern)?);
        self.issues.push(issue);
        Ok(())
    }

    /// The index of the first pattern the result's output matches.
    pub fn matching(&self, result: &RunResult) -> Option<usize> {
        self.matching_output(&result.stdout, &result.stderr)
    }

    /// The index of the first pattern that `stdout` or `stderr` matches.
    pub fn matching_output(&self, stdout: &str, stderr: &str) -> Option<usize> {
        self.patterns.iter().position(|re| re.is_match(stderr) || re.is_match(stdout))
    }

    /// The pattern text at `index`.
    pub fn pattern(&self, index: usize) -> &str {
        self.patterns[index].as_str()
    }

    /// What the entry at `index` says of itself.
    pub fn issue(&self, index: usize) -> &KnownIssue {
        &self.issues[index]
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// The verdict on `result`, given the ignore patterns.
pub fn classify(result: &RunResult, ignore: &IgnorePatterns) -> Status {
    if result.success && result.retries().next().is_some() {
        Status::Flaky
    } else if result.success {
        Status::Passed
    } else if ignore.matching(result).is_some() {
        Status::Ignored
    } else if result.timed_out {
        Status::TimedOut
    } else if result.returncode < 0 {
        Status::Crashed
    } else {
        Status::Failed
    }
}

/// The signature that groups a failure with others of the same cause, and titles its bucket (an issue
/// title as it stands): the signal, the timeout, or the last exception line of stderr with what
/// differs between two runs of the same bug made the same (`RuntimeError: shape [N, N] is invalid for
/// input of size N`, see [`normalise`]), else the exit code.
pub fn signature(result: &RunResult) -> String {
    if result.timed_out {
        return "timed out".to_string();
    }
    if result.returncode < 0 {
        return format!("killed by {}", crate::exit::signal_name(-result.returncode));
    }
    if let Some(line) = last_exception_line(&result.stderr) {
        return normalise(&line);
    }
    format!("exit code {}", result.returncode)
}

/// An exception line with what varies between two occurrences of the same bug replaced: memory
/// addresses by `0x…`, file paths by `<path>`, and numbers (sizes, shapes, indices, values) by `N`,
/// past the exception's type (`ValueError: got 3 at 0x7f12` and `ValueError: got 12 at 0x7e00` are one
/// bucket, `ValueError: got N at 0x…`).
pub fn normalise(line: &str) -> String {
    use std::sync::LazyLock;
    static ADDRESS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b0x[0-9a-fA-F]+\b").expect("a regex"));
    static PATH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(^|[\s'"(\[=])(/[^\s'",:)\]]+)"#).expect("a regex"));
    static NUMBER: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(^|[^\w.])-?\d+(\.\d+)?([eE][-+]?\d+)?\b").expect("a regex"));
    // Shapes written `4x3` (torch's "mat1 and mat2 shapes cannot be multiplied (4x3 and 5x6)").
    static SHAPE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d+(x\d+)+\b").expect("a regex"));
    // The exception's type (its module path may hold digits) is kept as it is.
    let (kind, message) = match line.split_once(": ") {
        Some((kind, message)) if !kind.contains(' ') => (Some(kind), message),
        _ => (None, line),
    };
    let message = ADDRESS.replace_all(message, "0x…");
    let message = PATH.replace_all(&message, "$1<path>");
    let message =
        SHAPE.replace_all(&message, |c: &regex::Captures<'_>| vec!["N"; c[0].split('x').count()].join("x"));
    let message = NUMBER.replace_all(&message, "${1}N");
    match kind {
        Some(kind) => format!("{kind}: {message}"),
        None => message.into_owned(),
    }
}

/// The last line of a traceback: the first non-indented line after the last "Traceback" header.
fn last_exception_line(stderr: &str) -> Option<String> {
    let start = stderr.rfind("Traceback (most recent call last):")?;
    stderr[start..]
        .lines()
        .skip(1)
        .find(|l| !l.starts_with(' ') && !l.trim().is_empty())
        .map(|l| l.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mode, Truncated};

    fn result(rc: i32, stderr: &str, timed_out: bool) -> RunResult {
        RunResult {
            success: rc == 0,
            stdout: String::new(),
            stderr: stderr.into(),
            returncode: rc,
            program: "/p.py".into(),
            mode: Mode::Warm,
            device: None,
            duration: 0.0,
            timed_out,
            truncated: Truncated::default(),
            leaked_pipes: false,
            attempts: Vec::new(),
            program_time: None,
        }
    }

    const TB: &str = "Traceback (most recent call last):\n  File \"/p.py\", line 1, in <module>\n    f()\nValueError: boom\n";

    #[test]
    fn verdicts() {
        let ignore = IgnorePatterns::new(&[r"InductorError: AssertionError: -1".into()]).unwrap();
        let cases = [
            (result(0, "", false), Status::Passed),
            (result(1, TB, false), Status::Failed),
            (result(3, "", false), Status::Failed),
            (result(-11, "", false), Status::Crashed),
            (result(-9, "", true), Status::TimedOut),
            (result(1, "torch._inductor.exc.InductorError: AssertionError: -1\n", false), Status::Ignored),
        ];
        for (r, want) in cases {
            assert_eq!(classify(&r, &ignore), want, "{r:?}");
        }
    }

    #[test]
    fn the_same_bug_with_other_numbers_addresses_and_paths_is_one_signature() {
        let same = [
            ("RuntimeError: size mismatch, got 4, 4x3, 12", "RuntimeError: size mismatch, got 17, 17x3, 51"),
            (
                "IndexError: index 10 is out of bounds for dimension 0 with size 3",
                "IndexError: index -1 is out of bounds for dimension 0 with size 8",
            ),
            ("ValueError: <object at 0x7f3a2b1c> failed", "ValueError: <object at 0x55d0e1f2a0> failed"),
            (
                "FileNotFoundError: [Errno 2] No such file or directory: '/tmp/torchinductor_root/ab/cx.py'",
                "FileNotFoundError: [Errno 2] No such file or directory: '/tmp/x/y.py'",
            ),
            (
                "torch._dynamo.exc.Unsupported: float 1.5e-3 is not 2.0",
                "torch._dynamo.exc.Unsupported: float 7.25 is not -3",
            ),
        ];
        for (a, b) in same {
            assert_eq!(normalise(a), normalise(b), "{a} / {b}");
        }
        assert_eq!(
            normalise("RuntimeError: shape [2, 3] at 0xdeadbeef"),
            "RuntimeError: shape [N, N] at 0x…"
        );
        assert_eq!(
            normalise("torch._inductor.exc.InductorError: AssertionError: -1"),
            "torch._inductor.exc.InductorError: AssertionError: N"
        );
        assert_eq!(normalise("Float8Error: bad"), "Float8Error: bad", "the type is kept");
        assert_eq!(normalise("ValueError: file /a/b.py line 3"), "ValueError: file <path> line N");
    }

    #[test]
    fn signatures() {
        let chained = format!("{TB}\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"/p.py\", line 3\nKeyError: 'x'\n");
        let cases = [
            (result(1, TB, false), "ValueError: boom"),
            (
                result(1, &TB.replace("boom", "shape '[2, 3]' is invalid for input of size 7"), false),
                "ValueError: shape '[N, N]' is invalid for input of size N",
            ),
            (result(1, &chained, false), "KeyError: 'x'"),
            (result(4, "no traceback\n", false), "exit code 4"),
            (result(-6, "", false), "killed by SIGABRT"),
            (result(-9, "", true), "timed out"),
        ];
        for (r, want) in cases {
            assert_eq!(signature(&r), want);
        }
    }
}
