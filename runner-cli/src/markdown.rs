//! The Markdown forms of a campaign's report: the whole report (`--markdown`, for a CI job summary
//! or a pull request), and the issue body of one bucket (`runner report --bucket N`): its title
//! line, the reproducer's source, the command, the output.

use std::fmt::Write as _;

use crate::campaign::{Bucket, Campaign, STATUSES};
use crate::html::{clean, python_command};
use crate::text::human_time;

/// How many buckets the Markdown report lists.
const BUCKETS_LISTED: usize = 50;

/// The most bytes of a reproducer's source an issue body carries.
const SOURCE_CAP: usize = 64 * 1024;

/// The most bytes of each output an issue body carries (its first and last half).
const ISSUE_OUTPUT_CAP: usize = 12 * 1024;

/// The whole report.
pub fn report(c: &Campaign, title: &str) -> String {
    let t = &c.tally;
    let mut s = String::new();
    let verdict = if t.failures() == 0 { "PASS" } else { "FAIL" };
    let _ = writeln!(s, "## {verdict}: {}\n", one_line(title));
    let counts: Vec<String> = STATUSES
        .iter()
        .filter(|st| t.count(st) > 0 || matches!(**st, "passed" | "failed"))
        .map(|st| format!("{} {}", t.count(st), st.replace('_', " ")))
        .collect();
    let rate = if t.total() > 0 { 100.0 * t.failures() as f64 / t.total() as f64 } else { 0.0 };
    let _ = writeln!(s, "{} programs: {}; failure rate {rate:.1}%.", t.total(), counts.join(", "));
    let done = t.total() as f64;
    if let Some(cmd) = c.command {
        let _ = writeln!(
            s,
            "Wall {:.2} s, of which {:.2} s engine start-up; {:.1} programs/s over the wall, {:.1} once started.",
            cmd.wall,
            cmd.startup,
            done / cmd.wall.max(1e-9),
            done / (cmd.wall - cmd.startup).max(1e-9)
        );
    } else if let Some((first, last)) = c.span {
        let span = (last - first).max(1e-9);
        let _ = writeln!(
            s,
            "{} from the first program's start to the last one's end; {:.1} programs/s.",
            human_time(span),
            done / span
        );
    }
    if t.total() > 0 {
        let _ = writeln!(s, "Average program time {}.", human_time(t.busy / done));
    }
    let buckets = c.buckets();
    if !buckets.is_empty() {
        let _ = writeln!(s, "\n### Failure buckets\n");
        let _ = writeln!(s, "| # | id | programs | verdict | signature | example |");
        let _ = writeln!(s, "| ---: | --- | ---: | --- | --- | --- |");
        for (i, b) in buckets.iter().enumerate().take(BUCKETS_LISTED) {
            let _ = writeln!(
                s,
                "| {} | `{}` | {} | {} | {} | {} |",
                i + 1,
                b.id,
                b.count,
                b.status.replace('_', " "),
                code(&b.signature),
                code(&b.example.program)
            );
        }
        if buckets.len() > BUCKETS_LISTED {
            let _ = writeln!(s, "\n... and {} more buckets.", buckets.len() - BUCKETS_LISTED);
        }
    }
    if !c.known().is_empty() {
        let _ = writeln!(s, "\n### Known issues\n");
        let _ = writeln!(s, "| hits | issue | pattern | note |");
        let _ = writeln!(s, "| ---: | --- | --- | --- |");
        for k in c.known() {
            let mut note = cell(k.issue.note.as_deref().unwrap_or(""));
            if k.hits == 0 {
                note.push_str(if note.is_empty() { "not hit (fixed?)" } else { "; not hit (fixed?)" });
            }
            let _ = writeln!(
                s,
                "| {} | {} | {} | {note} |",
                k.hits,
                cell(k.issue.issue.as_deref().unwrap_or("-")),
                code(&k.pattern)
            );
        }
    }
    if !c.flaky.is_empty() {
        let _ = writeln!(s, "\n### Flaky programs (passed on a retry)\n");
        for (p, runs) in &c.flaky {
            let _ = writeln!(s, "- {} after {runs} failed run{}", code(p), if *runs == 1 { "" } else { "s" });
        }
        let n = t.count("flaky");
        if n > c.flaky.len() {
            let _ = writeln!(s, "- ... and {} more", n - c.flaky.len());
        }
    }
    if c.slowest().len() > 1 {
        let _ = writeln!(s, "\n### Slowest programs\n");
        for (secs, p) in c.slowest() {
            let _ = writeln!(s, "- {} {}", human_time(*secs), code(p));
        }
    }
    if c.devices.keys().any(Option::is_some) {
        let _ = writeln!(s, "\n### Per device\n");
        let _ = writeln!(s, "| CUDA_VISIBLE_DEVICES | programs | failed | program time |");
        let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
        for (d, t) in &c.devices {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                d.as_deref().unwrap_or("(none)"),
                t.total(),
                t.failures(),
                human_time(t.busy)
            );
        }
    }
    if !c.engine_failures.is_empty() {
        let _ = writeln!(s, "\n### Engine failures\n");
        for (p, m) in &c.engine_failures {
            let _ = writeln!(s, "- {}: {}", code(p), cell(m));
        }
    }
    s
}

/// A bucket's title, ready to be an issue's.
pub fn issue_title(b: &Bucket) -> String {
    one_line(&clean(&b.signature))
}

/// The issue body of bucket number `n`: what it is, the reproducer (the example's source, read
/// now from `source`), how to run it, and its output.
pub fn issue_body(n: usize, b: &Bucket, source: std::io::Result<Vec<u8>>) -> String {
    let e = &b.example;
    let mut s = String::new();
    let _ = writeln!(s, "### What happens\n");
    let _ = writeln!(
        s,
        "A generated program fails with `{}` ({}, returncode {}).",
        issue_title(b).replace('`', "'"),
        b.status.replace('_', " "),
        e.returncode.map_or_else(|| "-".to_string(), |r| r.to_string())
    );
    let mut more = Vec::new();
    if b.count > 1 {
        more.push(format!("{} programs of the campaign fail the same way.", b.count));
    }
    match (b.confirmed, b.unconfirmed) {
        (0, 0) => {}
        (_, 0) => more.push("It fails again when run alone in a fresh process.".to_string()),
        (0, _) => more.push(
            "It did not fail again when run alone in a fresh process: it may depend on what ran before it."
                .to_string(),
        ),
        (y, n) => {
            more.push(format!("Run alone in a fresh process, {y} of them failed again and {n} did not."))
        }
    }
    if !more.is_empty() {
        let _ = writeln!(s, "{}", more.join(" "));
    }
    let _ = writeln!(s, "\n### Reproducer\n");
    match source {
        Ok(bytes) => {
            let text = crate::junit::cap(&String::from_utf8_lossy(&bytes), SOURCE_CAP);
            let _ = writeln!(s, "{}", fenced("python", &text));
        }
        Err(err) => {
            let _ = writeln!(s, "(the program {} cannot be read now: {err})", e.program);
        }
    }
    let _ = writeln!(s, "\n```sh\n{}\n```", python_command(e.device.as_deref(), &e.program));
    if let Some(r) = &e.reproduce {
        let _ = writeln!(s, "\nAs the campaign ran it: `{r}`");
    }
    let _ = writeln!(s, "\n### Output\n");
    for (name, text) in [("stderr", &e.stderr), ("stdout", &e.stdout)] {
        if !text.is_empty() {
            let text = crate::junit::cap(&clean(text), ISSUE_OUTPUT_CAP);
            let _ = writeln!(
                s,
                "<details{}><summary>{name}</summary>\n",
                if name == "stderr" { " open" } else { "" }
            );
            let _ = writeln!(s, "{}\n</details>\n", fenced("", &text));
        }
    }
    if !b.more.is_empty() {
        let _ = writeln!(s, "### Other programs in this bucket\n");
        for p in &b.more {
            let _ = writeln!(s, "- `{p}`");
        }
    }
    let _ = writeln!(
        s,
        "\n<sub>Bucket {n} (`{}`) of a runner campaign; runner {}.</sub>",
        b.id,
        env!("CARGO_PKG_VERSION")
    );
    s
}

/// `text` in a fenced block whose fence is longer than any run of backticks in it.
fn fenced(lang: &str, text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let nl = if text.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{lang}\n{text}{nl}{fence}")
}

/// `text` on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` as a table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    one_line(&clean(text)).replace('|', "\\|")
}

/// `text` as inline code in a table cell.
fn code(text: &str) -> String {
    let text = cell(text);
    let ticks = if text.contains('`') { "``" } else { "`" };
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_core::classify::KnownIssue;

    fn campaign() -> Campaign {
        let mut c = Campaign::new([("stale".to_string(), KnownIssue::default())]);
        for l in [
            r#"{"program":"/a.py","status":"failed","duration":0.5,"returncode":1,"signature":"E: a|b","stderr":"Traceback\nE: a|b\n","device":"1","confirmed":true,"reproduce":"runner run /a.py"}"#,
            r#"{"program":"/b.py","status":"failed","duration":0.5,"returncode":1,"signature":"E: a|b","confirmed":true}"#,
            r#"{"program":"/c.py","status":"flaky","duration":0.5,"returncode":0,"retries":[{}]}"#,
        ] {
            c.add_line(l.as_bytes());
        }
        c
    }

    #[test]
    fn the_report_lists_buckets_known_issues_and_flaky_programs_in_tables_that_hold() {
        let md = report(&campaign(), "results.jsonl");
        assert!(md.starts_with("## FAIL: results.jsonl\n"), "{md}");
        assert!(md.contains("3 programs: 0 passed, 1 flaky, 2 failed; failure rate 66.7%."), "{md}");
        assert!(md.contains("| 1 | `"), "{md}");
        assert!(md.contains("`E: a\\|b`"), "a pipe would split the cell: {md}");
        assert!(md.contains("not hit (fixed?)"));
        assert!(md.contains("- `/c.py` after 1 failed run\n"));
    }

    #[test]
    fn an_issue_body_has_the_source_the_command_and_the_output() {
        let c = campaign();
        let (n, b) = c.bucket("1").unwrap();
        let body = issue_body(n, b, Ok(b"import torch\nx = '```'\n".to_vec()));
        assert!(body.contains("fails with `E: a|b` (failed, returncode 1)"), "{body}");
        assert!(body.contains("returncode 1).\n2 programs of the campaign fail the same way. It fails again"));
        assert!(body.contains("It fails again when run alone in a fresh process."));
        assert!(body.contains("````python\nimport torch\nx = '```'\n````"), "a longer fence: {body}");
        assert!(body.contains("```sh\nCUDA_VISIBLE_DEVICES=1 python /a.py\n```"));
        assert!(body.contains("As the campaign ran it: `runner run /a.py`"));
        assert!(body.contains("<summary>stderr</summary>\n\n```\nTraceback\nE: a|b\n```"), "{body}");
        assert!(body.contains("- `/b.py`"));
        assert_eq!(issue_title(b), "E: a|b");
        let gone = issue_body(n, b, Err(std::io::Error::from(std::io::ErrorKind::NotFound)));
        assert!(gone.contains("cannot be read now"));
    }
}
