//! The campaign reports, end to end: the README's main job (the bundled examples with their
//! known-issues file and `--retries`, as `cargo xtask demo` runs it from `examples/demo.args`) shows
//! a known-issue hit, an entry not hit and a flaky program, and its HTML page renders in a real
//! browser (Debian's headless Chromium) with the counts of its JSONL; a failing corpus's page, made
//! afterwards by `runner report`, renders its buckets with their examples; `runner report --bucket`
//! prints an issue body and a title; bad input is one line and exit 2.
//!
//! The browser tests need `chromium` (`cargo xtask test` installs it when it runs as root). Without
//! it they fail in CI and are skipped, saying why, elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use runner_tests::{finish_within, require_module, runner, text};
use serde_json::Value;

/// How long the main job may take (the examples include a CPU `torch.compile` program).
const MAIN_JOB_LIMIT: Duration = Duration::from_secs(600);

/// How long the browser may take for one page.
const BROWSER_LIMIT: Duration = Duration::from_secs(120);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// The main job's arguments (`examples/demo.args`), with its output paths moved into `dir`.
fn main_job_args(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(workspace().join("examples/demo.args")).expect("examples/demo.args");
    let mut args: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    for (flag, name) in [("-o", "results.jsonl"), ("--html", "report.html")] {
        let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("the main job has no {flag}"));
        args[at + 1] = dir.join(name).display().to_string();
    }
    args
}

fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn by_program(records: &[Value]) -> BTreeMap<String, &Value> {
    records
        .iter()
        .map(|r| {
            let name =
                Path::new(r["program"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
            (name, r)
        })
        .collect()
}

/// The headless browser, or `None` (outside CI) when it is not installed.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing: CI runs `cargo xtask test`, which installs Debian's chromium as root"
        );
        eprintln!("skipped: chromium is not installed (`apt-get install chromium`, or run `cargo xtask test` as root)");
    }
    found
}

/// Opens `page` in headless Chromium: the DOM as the browser parsed it, and a screenshot.
fn browse(browser: &Path, page: &Path, dir: &Path) -> (String, PathBuf) {
    let shot = dir.join("screenshot.png");
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.display());
    let common = |cmd: &mut Command| {
        cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .env("HOME", profile.path());
    };
    let mut dump = Command::new(browser);
    common(&mut dump);
    dump.arg("--dump-dom").arg(&url);
    let out = finish_within(&mut dump, None, BROWSER_LIMIT);
    assert!(out.status.success(), "chromium --dump-dom: {}", text(&out.stderr));
    let dom = text(&out.stdout);
    let mut snap = Command::new(browser);
    common(&mut snap);
    snap.arg("--window-size=1280,2000").arg(format!("--screenshot={}", shot.display())).arg(&url);
    let out = finish_within(&mut snap, None, BROWSER_LIMIT);
    assert!(out.status.success() && shot.is_file(), "chromium --screenshot: {}", text(&out.stderr));
    (dom, shot)
}

/// The RGB pixels of a PNG, with its size.
fn pixels(png: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let px = buf[..info.buffer_size()].chunks(step).map(|c| [c[0], c[1], c[2]]).collect();
    (info.width, info.height, px)
}

/// The count a card of the page shows for `status`.
fn card(dom: &str, status: &str) -> Option<usize> {
    let at = dom.find(&format!(r#"data-status="{status}""#))?;
    let rest = &dom[at..];
    let n = rest.find(r#"<div class="n">"#)? + r#"<div class="n">"#.len();
    rest[n..rest[n..].find('<')? + n].trim().parse().ok()
}

fn statuses(records: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in records {
        *counts.entry(r["status"].as_str().unwrap().to_string()).or_default() += 1;
    }
    counts
}

fn assert_cards_match(dom: &str, records: &[Value]) {
    for (status, n) in statuses(records) {
        assert_eq!(card(dom, &status), Some(n), "the {status} card shows the JSONL's count");
    }
}

#[test]
fn the_main_job_shows_a_known_issue_hit_and_a_flaky_program_and_its_page_renders_in_a_browser() {
    require_module("torch");
    require_module("numpy");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = runner();
    cmd.args(main_job_args(dir.path())).current_dir(workspace());
    let out = finish_within(&mut cmd, None, MAIN_JOB_LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "the main job passes\n{stdout}\n{}", text(&out.stderr));

    let records = records(&dir.path().join("results.jsonl"));
    let examples = std::fs::read_dir(workspace().join("examples"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "py"))
        .count();
    assert_eq!(records.len(), examples, "one record per example");
    let by = by_program(&records);
    let flaky = by["flaky.py"];
    assert_eq!(flaky["status"], "flaky", "{flaky}");
    assert_eq!(flaky["retries"].as_array().map(Vec::len), Some(1), "one failed run kept: {flaky}");
    let known = by["known_issue.py"];
    assert_eq!(known["status"], "ignored", "{known}");
    assert_eq!(known["ignored_by"], "RuntimeError: mat1 and mat2 shapes cannot be multiplied");
    assert!(
        known["known_issue"]["note"].as_str().is_some_and(|n| n.contains("mismatched shapes")),
        "{known}"
    );
    for (name, r) in &by {
        if !["flaky.py", "known_issue.py"].contains(&name.as_str()) {
            assert_eq!(r["status"], "passed", "{name}: {r}");
        }
        assert!(r["started_at"].as_f64().is_some_and(|t| t > 1.7e9), "{name} has its start time: {r}");
    }
    assert!(stdout.contains("passed 8, flaky 1, failed 0"), "{stdout}");
    assert!(stdout.contains("Flaky programs (passed on a retry):"), "{stdout}");
    assert!(
        stdout.contains("      1x \"RuntimeError: mat1 and mat2 shapes cannot be multiplied\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("0x https://github.com/pytorch/pytorch/issues/167937")
            && stdout.contains("not hit in this run"),
        "{stdout}"
    );

    let Some(browser) = chromium() else { return };
    let (dom, shot) = browse(&browser, &dir.path().join("report.html"), dir.path());
    assert_cards_match(&dom, &records);
    assert!(dom.contains("<h2>Known issues</h2>") && dom.contains("not hit in these results"), "{dom}");
    assert!(dom.contains("<h2>Flaky programs</h2>") && dom.contains("examples/flaky.py"), "{dom}");
    assert!(dom.contains("No failures."));
    assert!(dom.matches("<svg").count() >= 2, "the histogram and the throughput chart");
    let (w, h, px) = pixels(&shot);
    assert_eq!((w, h), (1280, 2000));
    let badge = px.iter().filter(|p| **p == [46, 139, 87]).count();
    assert!(badge > 200, "the green PASS badge and bars are painted ({badge} pixels)");
    let colors: BTreeSet<[u8; 3]> = px.iter().copied().collect();
    assert!(colors.len() > 50, "text and charts are painted ({} colours)", colors.len());
}

/// A corpus with failures of several kinds.
fn failing_corpus(dir: &Path) -> PathBuf {
    let corpus = dir.join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    for i in 1..=4 {
        let source = format!(
            "print('step {i}')\nraise ValueError('shape [{i}, 3] is invalid for input of size {}')\n",
            i * 7
        );
        std::fs::write(corpus.join(format!("shape_{i}.py")), source).unwrap();
    }
    std::fs::write(corpus.join("segv.py"), "import ctypes\nctypes.string_at(0)\n").unwrap();
    std::fs::write(
        corpus.join("markup.py"),
        "import sys\nsys.stderr.write('<b>bold</b> & <script>x</script>\\n')\nsys.exit(3)\n",
    )
    .unwrap();
    for i in 1..=3 {
        std::fs::write(corpus.join(format!("ok_{i}.py")), format!("print({i})\n")).unwrap();
    }
    corpus
}

#[test]
fn a_failing_campaign_s_page_from_runner_report_renders_its_buckets_and_an_issue_body_is_ready_to_file() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = failing_corpus(dir.path());
    let results = dir.path().join("results.jsonl");
    let out = finish_within(
        runner().args(["batch", "-q", "-j", "2", "-o"]).arg(&results).arg(&corpus),
        None,
        Duration::from_secs(120),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let records = records(&results);
    let signatures: BTreeSet<&str> = records.iter().filter_map(|r| r["signature"].as_str()).collect();
    assert_eq!(signatures.len(), 3, "{signatures:?}");

    let page = dir.path().join("page.html");
    let out = finish_within(
        runner().arg("report").arg(&results).arg("--html").arg(&page),
        None,
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(1), "the campaign failed: {}", text(&out.stderr));

    let md = finish_within(runner().arg("report").arg(&results), None, Duration::from_secs(60));
    let md = text(&md.stdout);
    assert!(
        md.contains("| 1 | `")
            && md.contains("| 4 | failed | `ValueError: shape [N, N] is invalid for input of size N`"),
        "{md}"
    );

    let title = finish_within(
        runner().arg("report").arg(&results).args(["--bucket", "1", "--title"]),
        None,
        Duration::from_secs(60),
    );
    assert_eq!(title.status.code(), Some(0));
    assert_eq!(text(&title.stdout), "ValueError: shape [N, N] is invalid for input of size N\n");
    let body = finish_within(
        runner().arg("report").arg(&results).args(["--bucket", "1"]),
        None,
        Duration::from_secs(60),
    );
    let body = text(&body.stdout);
    let example = corpus.join("shape_1.py");
    assert!(
        body.contains(&format!("```python\n{}```", std::fs::read_to_string(&example).unwrap())),
        "{body}"
    );
    assert!(body.contains(&format!("```sh\npython {}\n```", example.display())), "{body}");
    assert!(
        body.contains("ValueError: shape [1, 3] is invalid for input of size 7\n```"),
        "the example's own stderr: {body}"
    );
    assert!(body.contains("4 programs of the campaign fail the same way."), "{body}");
    let bad = finish_within(
        runner().arg("report").arg(&results).args(["--bucket", "9"]),
        None,
        Duration::from_secs(60),
    );
    assert_eq!(bad.status.code(), Some(2));
    let err = text(&bad.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no bucket 9: the results have 3"), "{err}");

    let Some(browser) = chromium() else { return };
    let (dom, _) = browse(&browser, &page, dir.path());
    assert_cards_match(&dom, &records);
    let rows = dom.matches("<tr data-bucket=").count();
    assert_eq!(rows, signatures.len(), "one row per bucket");
    for sig in &signatures {
        let id = bucket_id_in(&dom, sig).unwrap_or_else(|| panic!("no row for {sig}: {dom}"));
        assert!(dom.contains(&format!(r#"id="b{id}""#)), "bucket {sig} has its section");
    }
    assert!(
        dom.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;"),
        "output is text, not markup"
    );
    assert!(!dom.contains("<script>x"), "{dom}");
    assert!(dom.contains("ValueError: shape [1, 3] is invalid for input of size 7"), "the example's stderr");
}

/// The id of the bucket row whose signature cell is `sig`.
fn bucket_id_in(dom: &str, sig: &str) -> Option<String> {
    let cell = format!(
        r#"<td class="sig">{}</td>"#,
        sig.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    );
    let at = dom.find(&cell)?;
    let row = dom[..at].rfind("<tr data-bucket=\"")? + "<tr data-bucket=\"".len();
    Some(dom[row..row + 8].to_string())
}

#[test]
fn bad_input_to_runner_report_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let check = |out: Output, what: &str| {
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        err
    };
    let err = check(
        finish_within(
            runner().arg("report").arg(dir.path().join("nope.jsonl")),
            None,
            Duration::from_secs(30),
        ),
        "missing",
    );
    assert!(err.contains("nope.jsonl"), "{err}");
    let err = check(
        finish_within(runner().arg("report").arg(dir.path()), None, Duration::from_secs(30)),
        "empty dir",
    );
    assert!(err.contains("holds no .jsonl"), "{err}");
    let results = dir.path().join("r.jsonl");
    std::fs::write(&results, "{\"program\":\"/a.py\",\"status\":\"passed\",\"duration\":0.1}\n").unwrap();
    let bad_known = dir.path().join("k.toml");
    std::fs::write(&bad_known, "[[issue]]\npattern = '('\n").unwrap();
    let err = check(
        finish_within(
            runner().arg("report").arg(&results).arg("--known-issues").arg(&bad_known),
            None,
            Duration::from_secs(30),
        ),
        "bad known issues",
    );
    assert!(err.contains("--known-issues"), "{err}");
    let err = check(
        finish_within(
            runner().arg("report").arg(&results).args(["--bucket", "1"]),
            None,
            Duration::from_secs(30),
        ),
        "no buckets",
    );
    assert!(err.contains("no failure buckets"), "{err}");
    let ok = finish_within(runner().arg("report").arg(&results), None, Duration::from_secs(30));
    assert_eq!(ok.status.code(), Some(0), "a passing campaign: {}", text(&ok.stderr));
}
