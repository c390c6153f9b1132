//! The JUnit XML report, written at the end of a batch from the records on disk (the JSONL results
//! file, or the reporter's private spool when there is none), never from results kept in memory:
//! the report is streamed record by record, so a corpus of a million programs or outputs of many
//! megabytes cost one record's memory at a time. Each case carries at most [`OUTPUT_CAP`] bytes of
//! each output (stdout, stderr, a failure's text): its first and last half, with a line between
//! saying how much was left out (the JSONL keeps outputs whole).
//!
//! The format is what CI systems read (and what quick-junit wrote before): one `<testsuite>` named
//! `runner batch` in `<testsuites name="runner">`, one `<testcase>` per program named by its path,
//! a `<failure>` for a failed, crashed or timed-out program, `<skipped>` for an ignored failure,
//! `<error>` for an engine failure. Text is escaped for XML; ANSI escape sequences and the control
//! characters XML cannot carry are dropped.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use runner_core::EngineFailure;

/// The most bytes of one output a JUnit case carries; longer outputs keep their first and last
/// half of this.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// The most bytes of a failure's message (its signature) a case carries.
const MESSAGE_CAP: usize = 4 * 1024;

/// A byte range of a file, read without moving the file's offset (so the file may go on being
/// appended to through another handle).
pub struct Region {
    file: File,
    pos: u64,
    end: u64,
}

impl Region {
    /// Bytes `start..end` of `file`.
    pub fn new(file: File, start: u64, end: u64) -> Self {
        Region { file, pos: start, end }
    }
}

impl Read for Region {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// What a case needs of a record.
#[derive(Deserialize)]
struct Case<'a> {
    #[serde(borrow)]
    program: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(default)]
    duration: f64,
    #[serde(default)]
    signature: Option<Capped<MESSAGE_CAP>>,
    #[serde(default)]
    stdout: Option<Capped<OUTPUT_CAP>>,
    #[serde(default)]
    stderr: Option<Capped<OUTPUT_CAP>>,
    #[serde(default)]
    engine_failure: Option<EngineFailure>,
    /// The failed runs `--retries` ran again, oldest first.
    #[serde(default)]
    retries: Vec<Rerun>,
}

/// A failed run that was run again (`--retries`): what JUnit's `flakyFailure` (the program passed on
/// a later run) or `rerunFailure` (it never did) elements carry.
#[derive(Deserialize)]
struct Rerun {
    #[serde(default)]
    returncode: i32,
    #[serde(default)]
    timed_out: bool,
    #[serde(default)]
    stdout: Option<Capped<OUTPUT_CAP>>,
    #[serde(default)]
    stderr: Option<Capped<OUTPUT_CAP>>,
}

impl Rerun {
    /// The type and message of its element, as a failure's are.
    fn verdict(&self) -> (&'static str, String) {
        if self.timed_out {
            ("timed_out", "timed out".to_string())
        } else if self.returncode < 0 {
            ("crashed", runner_core::exit::signal_name(-self.returncode))
        } else {
            ("failed", format!("exit code {}", self.returncode))
        }
    }
}

/// Only the verdict, for the counts of the first pass.
#[derive(Deserialize)]
struct Verdict<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
}

/// A string cut to at most `CAP` bytes as it is read: the first and last half, and a line between
/// them saying how many bytes were left out. The whole string is never kept. (The reports'
/// [`crate::campaign`] reads outputs this way too.)
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Capped<const CAP: usize>(pub String);

impl<'de, const CAP: usize> Deserialize<'de> for Capped<CAP> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<const CAP: usize>;
        impl<const CAP: usize> serde::de::Visitor<'_> for Visitor<CAP> {
            type Value = Capped<CAP>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Capped(cap(s, CAP)))
            }
        }
        deserializer.deserialize_str(Visitor::<CAP>)
    }
}

/// `s` whole when it fits in `cap` bytes, else its first and last `cap / 2` bytes (on character
/// boundaries) with a line between them that says how many were left out.
pub fn cap(s: &str, cap: usize) -> String {
    if s.len() <= cap {
        return s.to_string();
    }
    let half = cap / 2;
    let mut head = half;
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = s.len() - half;
    while !s.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n[runner: {} bytes left out here; reports keep the first and last {} KiB of each output, the JSONL all of it]\n{}",
        &s[..head],
        tail - head,
        half / 1024,
        &s[tail..]
    )
}

/// The counts of the `<testsuite>` element.
#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

/// Writes the report to `path` from the JSONL records that `records` opens (called twice: once
/// to count, once to write), each case under `classname`. An error names what failed; the caller
/// names the file.
pub fn write(
    path: &Path,
    records: impl Fn() -> io::Result<Region>,
    classname: &str,
    elapsed: Duration,
) -> io::Result<()> {
    let mut counts = Counts::default();
    each_record(records()?, |line| {
        let v: Verdict<'_> = serde_json::from_slice(line)?;
        counts.tests += 1;
        match &*v.status {
            "failed" | "crashed" | "timed_out" => counts.failures += 1,
            crate::reporter::ENGINE_FAILED => counts.errors += 1,
            "ignored" => counts.skipped += 1,
            _ => {}
        }
        Ok(())
    })?;
    let mut out = BufWriter::with_capacity(256 * 1024, File::create(path)?);
    let time = format!("{:.3}", elapsed.as_secs_f64());
    let Counts { tests, failures, errors, skipped } = counts;
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="runner" tests="{tests}" skipped="{skipped}" failures="{failures}" errors="{errors}" time="{time}">"#
    )?;
    writeln!(
        out,
        r#"    <testsuite name="runner batch" tests="{tests}" skipped="{skipped}" errors="{errors}" failures="{failures}" time="{time}">"#
    )?;
    each_record(records()?, |line| {
        let case: Case<'_> = serde_json::from_slice(line)?;
        write_case(&mut out, &case, classname)
    })?;
    writeln!(out, "    </testsuite>")?;
    writeln!(out, "</testsuites>")?;
    out.flush()
}

/// Calls `f` with each line of `records` (without its newline).
fn each_record(records: Region, mut f: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(256 * 1024, records);
    let mut line = Vec::new();
    let mut number = 0usize;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        number += 1;
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        f(body).map_err(|e| io::Error::new(e.kind(), format!("record {number}: {e}")))?;
        if line.capacity() > 4 * OUTPUT_CAP {
            // One record with large outputs must not hold its buffer for the rest of the report.
            line = Vec::new();
        }
    }
}

fn write_case(out: &mut impl Write, case: &Case<'_>, classname: &str) -> io::Result<()> {
    let status = &*case.status;
    write!(out, r#"        <testcase name=""#)?;
    escape(out, &case.program)?;
    write!(out, r#"" classname=""#)?;
    escape(out, classname)?;
    writeln!(out, r#"" time="{:.3}">"#, case.duration.max(0.0))?;
    let text = |c: &Option<Capped<OUTPUT_CAP>>| c.as_ref().map_or("", |c| c.0.as_str()).to_string();
    match status {
        crate::reporter::ENGINE_FAILED => {
            let message = match &case.engine_failure {
                Some(f) => format!("engine failed: {}", cap(&f.to_string(), MESSAGE_CAP)),
                None => "engine failed".to_string(),
            };
            element(out, "error", &message, status, None)?;
        }
        "ignored" => element(out, "skipped", "failure matches an ignore pattern", "", None)?,
        "failed" | "crashed" | "timed_out" => {
            let signature = case.signature.as_ref().map_or("", |s| s.0.as_str());
            let stderr = text(&case.stderr);
            element(out, "failure", &format!("{status}: {signature}"), status, Some(&stderr))?;
        }
        _ => {}
    }
    // As nextest and surefire write them: the earlier runs of a flaky program, or of one that failed
    // every run, each with its output.
    let rerun_tag = if status == "flaky" { "flakyFailure" } else { "rerunFailure" };
    for rerun in &case.retries {
        let (ty, message) = rerun.verdict();
        write!(out, r#"            <{rerun_tag} message=""#)?;
        escape(out, &format!("{ty}: {message}"))?;
        writeln!(out, r#"" type="{ty}">"#)?;
        for (tag, stream) in [("system-out", &rerun.stdout), ("system-err", &rerun.stderr)] {
            write!(out, "                <{tag}>")?;
            escape(out, text(stream).as_str())?;
            writeln!(out, "</{tag}>")?;
        }
        writeln!(out, "            </{rerun_tag}>")?;
    }
    for (tag, stream) in [("system-out", &case.stdout), ("system-err", &case.stderr)] {
        let body = text(stream);
        if !body.is_empty() {
            write!(out, "            <{tag}>")?;
            escape(out, &body)?;
            writeln!(out, "</{tag}>")?;
        }
    }
    writeln!(out, "        </testcase>")
}

/// `<tag message=".." type="..">body</tag>`, or an empty element without a body.
fn element(out: &mut impl Write, tag: &str, message: &str, ty: &str, body: Option<&str>) -> io::Result<()> {
    write!(out, r#"            <{tag} message=""#)?;
    escape(out, message)?;
    write!(out, "\"")?;
    if !ty.is_empty() {
        write!(out, r#" type=""#)?;
        escape(out, ty)?;
        write!(out, "\"")?;
    }
    match body {
        Some(body) if !body.is_empty() => {
            write!(out, ">")?;
            escape(out, body)?;
            writeln!(out, "</{tag}>")
        }
        _ => writeln!(out, "/>"),
    }
}

/// Writes `s` as XML text or attribute value: markup characters escaped, ANSI escape sequences and
/// the characters XML 1.0 cannot carry (most C0 controls, U+FFFE, U+FFFF) dropped.
fn escape(out: &mut impl Write, s: &str) -> io::Result<()> {
    let s: Cow<'_, str> =
        if s.contains('\x1b') { Cow::Owned(strip_ansi_escapes::strip_str(s)) } else { s.into() };
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let replacement = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&apos;",
            '\t' | '\n' | '\r' => continue,
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => "",
            _ => continue,
        };
        out.write_all(&s.as_bytes()[plain..i])?;
        out.write_all(replacement.as_bytes())?;
        plain = i + c.len_utf8();
    }
    out.write_all(&s.as_bytes()[plain..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        escape(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_is_escaped_and_what_xml_cannot_carry_is_dropped() {
        assert_eq!(escaped(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escaped("x\x00y\x07z\t\n\u{fffe}é"), "xyz\t\né");
        assert_eq!(escaped("\x1b[31mred\x1b[0m"), "red");
    }

    #[test]
    fn an_output_past_the_cap_keeps_its_head_and_tail_and_says_how_much_is_missing() {
        assert_eq!(cap("short", 16), "short");
        let long = format!("{}{}", "a".repeat(100), "b".repeat(100));
        let capped = cap(&long, 64);
        assert!(capped.starts_with(&"a".repeat(32)) && capped.ends_with(&"b".repeat(32)), "{capped}");
        assert!(capped.contains("[runner: 136 bytes left out here;"), "{capped}");
        // Never in the middle of a character.
        let wide = "é".repeat(100);
        let capped = cap(&wide, 63);
        assert!(capped.starts_with(&format!("{}\n", "é".repeat(15))), "{capped}");
        assert!(capped.ends_with(&format!("]\n{}", "é".repeat(15))), "{capped}");
        assert!(capped.contains("[runner: 140 bytes left out here;"), "{capped}");
    }

    #[test]
    fn cases_come_from_the_records_and_the_suite_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("r.jsonl");
        let records = [
            r#"{"program":"/a.py","status":"passed","duration":0.5,"stdout":"hi\n","stderr":""}"#,
            r#"{"program":"/b.py","status":"failed","duration":1,"stdout":"","stderr":"E<1>","signature":"E: 1"}"#,
            r#"{"program":"/c.py","status":"ignored","duration":0,"stdout":"","stderr":"K"}"#,
            r#"{"program":"/d.py","status":"engine_failed","duration":0,"engine_failure":{"kind":"zygote_died","message":"gone"}}"#,
        ];
        std::fs::write(&jsonl, records.join("\n") + "\n").unwrap();
        let len = std::fs::metadata(&jsonl).unwrap().len();
        let xml_path = dir.path().join("j.xml");
        let open = || Ok(Region::new(File::open(&jsonl)?, 0, len));
        write(&xml_path, open, "runner.warm", Duration::from_secs(2)).unwrap();
        let xml = std::fs::read_to_string(&xml_path).unwrap();
        assert!(xml.contains(
            r#"<testsuite name="runner batch" tests="4" skipped="1" errors="1" failures="1" time="2.000">"#
        ));
        assert!(xml.contains(r#"<testcase name="/a.py" classname="runner.warm" time="0.500">"#), "{xml}");
        assert!(
            xml.contains(r#"<failure message="failed: E: 1" type="failed">E&lt;1&gt;</failure>"#),
            "{xml}"
        );
        assert!(xml.contains(r#"<error message="engine failed: zygote_died: gone" type="engine_failed"/>"#));
        assert!(xml.contains(r#"<skipped message="failure matches an ignore pattern"/>"#), "{xml}");
        assert!(xml.trim_end().ends_with("</testsuites>"));
    }

    #[test]
    fn earlier_runs_are_flaky_failures_of_a_flaky_program_and_rerun_failures_of_a_failed_one() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("r.jsonl");
        let records = [
            r#"{"program":"/f.py","status":"flaky","duration":0.5,"stdout":"ok\n","stderr":"","retries":[{"returncode":1,"timed_out":false,"stdout":"first\n","stderr":"E1"}]}"#,
            r#"{"program":"/g.py","status":"failed","duration":1,"stdout":"","stderr":"E3","signature":"E","retries":[{"returncode":-11,"timed_out":false,"stdout":"","stderr":"E1"},{"returncode":1,"timed_out":true,"stdout":"","stderr":"E2"}]}"#,
        ];
        std::fs::write(&jsonl, records.join("\n") + "\n").unwrap();
        let len = std::fs::metadata(&jsonl).unwrap().len();
        let xml_path = dir.path().join("j.xml");
        let open = || Ok(Region::new(File::open(&jsonl)?, 0, len));
        write(&xml_path, open, "runner.warm", Duration::from_secs(2)).unwrap();
        let xml = std::fs::read_to_string(&xml_path).unwrap();
        // A flaky program passes: it is no failure of the suite.
        assert!(xml.contains(r#"tests="2" skipped="0" errors="0" failures="1""#), "{xml}");
        assert!(xml.contains(r#"<flakyFailure message="failed: exit code 1" type="failed">"#), "{xml}");
        assert!(xml.contains("<system-out>first\n</system-out>"), "{xml}");
        assert_eq!(xml.matches("<rerunFailure ").count(), 2, "{xml}");
        assert!(xml.contains(r#"<rerunFailure message="crashed: SIGSEGV" type="crashed">"#), "{xml}");
        assert!(xml.contains(r#"<rerunFailure message="timed_out: timed out" type="timed_out">"#), "{xml}");
    }
}
