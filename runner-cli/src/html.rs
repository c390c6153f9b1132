//! The HTML report of a campaign (`runner batch --html`, `runner report --html`): one
//! self-contained file, no script, no network, no asset beside it: its style is inline and its
//! charts are inline SVG. Built from a [`Campaign`], so the same page comes from a batch as it ends
//! and from its JSONL afterwards (merged shards too). Text is escaped by the template engine; ANSI
//! escapes and control characters are dropped from outputs.

use std::borrow::Cow;
use std::fmt::Write as _;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use plotters::prelude::*;

use crate::campaign::{histogram_edge, Bucket, Campaign, Tally, HISTOGRAM_BINS, STATUSES};
use crate::text::human_time;

/// Each chart's size in pixels: two fit side by side.
const CHART_SIZE: (u32, u32) = (540, 300);

/// How many buckets are shown with their example's output (the rest are table rows).
const BUCKETS_IN_FULL: usize = 100;

/// What the page says about where the results came from.
pub struct Source<'a> {
    /// The page's title ("runner batch examples", "results.jsonl").
    pub title: &'a str,
    /// The command that ran the batch, when the batch writes the page.
    pub command: Option<&'a str>,
    /// The command that made it again from the records, if any.
    pub remake: Option<&'a str>,
}

/// The page.
pub fn render(campaign: &Campaign, source: &Source<'_>) -> String {
    let tally = &campaign.tally;
    let failures = tally.failures();
    let verdict = if failures == 0 { "PASS" } else { "FAIL" };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(concat!("runner ", env!("CARGO_PKG_VERSION")));
                title { (verdict) " · " (source.title) " · runner" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 {
                        span.verdict.(verdict.to_ascii_lowercase()) { (verdict) }
                        " " (source.title)
                    }
                    p.sub { (headline(campaign)) }
                    @if let Some(command) = source.command { p.command { code { (command) } } }
                }
                (counts(tally))
                (figures(campaign))
                (buckets(campaign))
                (known_issues(campaign))
                (flaky(campaign))
                (charts(campaign))
                (slowest(campaign))
                (per_device(campaign))
                (per_worker(campaign))
                (engine_failures(campaign))
                footer {
                    "Written by runner " (env!("CARGO_PKG_VERSION")) " from " (campaign.records) " records"
                    @if campaign.unreadable > 0 { " (" (campaign.unreadable) " lines that were not records left out)" }
                    "."
                    @if let Some(remake) = source.remake { " Made again with " code { (remake) } "." }
                }
            }
        }
    };
    page.into_string()
}

fn headline(c: &Campaign) -> String {
    let t = &c.tally;
    let mut s = format!("{} programs", t.total());
    if !c.modes.is_empty() {
        let modes: Vec<String> = c.modes.iter().map(|(m, n)| format!("{m} {n}")).collect();
        let _ = write!(s, " · {}", modes.join(", "));
    }
    if !c.shards.is_empty() {
        let count = c.shards.keys().map(|s| s.count).max().unwrap_or(0);
        let _ = write!(s, " · {} of {count} shards", c.shards.len());
    }
    let rate = if t.total() > 0 { 100.0 * t.failures() as f64 / t.total() as f64 } else { 0.0 };
    let _ = write!(s, " · failure rate {rate:.1}%");
    s
}

fn status_label(status: &str) -> &'static str {
    match status {
        "passed" => "passed",
        "flaky" => "flaky",
        "ignored" => "ignored",
        "failed" => "failed",
        "crashed" => "crashed",
        "timed_out" => "timed out",
        "engine_failed" => "engine failed",
        _ => "other",
    }
}

fn counts(t: &Tally) -> Markup {
    html! {
        section.cards aria-label="counts" {
            @for status in STATUSES {
                @let n = t.count(status);
                @if n > 0 || matches!(status, "passed" | "failed") {
                    div.card.(status) data-status=(status) {
                        div.n { (n) }
                        div.what { (status_label(status)) }
                    }
                }
            }
        }
    }
}

fn figures(c: &Campaign) -> Markup {
    let done = c.tally.total() as f64;
    let mean = if c.tally.total() > 0 { c.tally.busy / done } else { f64::NAN };
    html! {
        section.figures {
            @if let Some(cmd) = c.command {
                @let running = (cmd.wall - cmd.startup).max(1e-9);
                p { "Wall " b { (format!("{:.2} s", cmd.wall)) } ", of which " (format!("{:.2} s", cmd.startup)) " engine start-up." }
                p { "Throughput " b { (format!("{:.1}", done / cmd.wall.max(1e-9))) " programs/s" }
                    " (" (format!("{:.0}", done / cmd.wall.max(1e-9) * 3600.0)) "/h) over the wall, "
                    (format!("{:.1}", done / running)) " programs/s once started." }
            } @else if let Some((first, last)) = c.span {
                @let span = (last - first).max(1e-9);
                p { "From the first program's start to the last one's end: " b { (human_time(span)) }
                    " (the records do not hold the engine start-up)." }
                p { "Throughput " b { (format!("{:.1}", done / span)) " programs/s" } " (" (format!("{:.0}", done / span * 3600.0)) "/h)." }
            }
            p { "Average program time " b { (human_time(mean)) } ", " (human_time(c.tally.busy)) " in all." }
            @if c.fallbacks > 0 {
                p { (plural(c.fallbacks, "program")) " ran again as " code { "python prog.py" } " because the embedded engine could not give them a result of their own (their records' " code { "fallback" } ")." }
            }
        }
    }
}

fn buckets(c: &Campaign) -> Markup {
    let buckets = c.buckets();
    html! {
        section #buckets {
            h2 { "Failure buckets" }
            @if buckets.is_empty() {
                p.none { "No failures." }
            } @else {
                p { (buckets.len()) " distinct failures, largest first. Each title is the failure's last exception line (or signal, or timeout) with numbers, addresses, paths and shapes made the same; "
                    code { "runner report RESULTS --bucket N" } " prints an issue body for bucket N." }
                table.buckets {
                    thead { tr { th { "#" } th { "id" } th.num { "programs" } th { "verdict" } th { "signature" } th { "confirmed" } } }
                    tbody {
                        @for (i, b) in buckets.iter().enumerate() {
                            tr data-bucket=(b.id) {
                                td { a href=(format!("#b{}", b.id)) { (i + 1) } }
                                td { code { (b.id) } }
                                td.num { (b.count) }
                                td { span.tag.(b.status) { (status_label(&b.status)) } }
                                td.sig { (clean(&b.signature)) }
                                td { (confirmation(b)) }
                            }
                        }
                    }
                }
                @if c.unbucketed > 0 {
                    p { (c.unbucketed) " more failures have signatures beyond the first " (crate::campaign::MAX_BUCKETS) " (the records' " code { "signature" } " has them)." }
                }
                @for (i, b) in buckets.iter().enumerate().take(BUCKETS_IN_FULL) {
                    (bucket(i + 1, b))
                }
            }
        }
    }
}

fn confirmation(b: &Bucket) -> String {
    match (b.confirmed, b.unconfirmed) {
        (0, 0) => "-".to_string(),
        (n, 0) => format!("yes ({n})"),
        (0, n) => format!("no ({n}): a state leak"),
        (y, n) => format!("{y} yes, {n} no"),
    }
}

fn bucket(n: usize, b: &Bucket) -> Markup {
    let e = &b.example;
    html! {
        details.bucket id=(format!("b{}", b.id)) open[n <= 3] {
            summary { span.count { (b.count) "×" } " " span.sig { (clean(&b.signature)) } " " span.tag.(b.status) { (status_label(&b.status)) } }
            dl {
                dt { "example" } dd { code { (e.program) } }
                dt { "returncode" } dd { (e.returncode.map_or_else(|| "-".to_string(), |r| r.to_string())) }
                dt { "time" } dd { (human_time(e.duration)) }
                @if let Some(d) = &e.device { dt { "device" } dd { code { "CUDA_VISIBLE_DEVICES=" (d) } } }
                @if let Some(m) = &e.mode { dt { "mode" } dd { (m) } }
                @if b.confirmed + b.unconfirmed > 0 { dt { "reproduced in a fresh executor" } dd { (confirmation(b)) } }
                @if let Some(r) = &e.reproduce { dt { "reproduce" } dd { pre.cmd { (r) } } }
                dt { "with python" } dd { pre.cmd { (python_command(e.device.as_deref(), &e.program)) } }
                @if !b.more.is_empty() {
                    dt { "more" } dd { @for p in &b.more { code { (p) } br; } @if b.count > b.more.len() + 1 { "… and " (b.count - b.more.len() - 1) " more" } }
                }
            }
            @if !e.stderr.is_empty() { h4 { "stderr" } pre.out { (clean(&e.stderr)) } }
            @if !e.stdout.is_empty() { h4 { "stdout" } pre.out { (clean(&e.stdout)) } }
        }
    }
}

/// `n thing` or `n things`.
fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// The plain python command that runs a program as torchfuzz's runner would.
pub fn python_command(device: Option<&str>, program: &str) -> String {
    let program = crate::text::shell_quote(program);
    match device {
        Some(d) => format!("CUDA_VISIBLE_DEVICES={} python {program}", crate::text::shell_quote(d)),
        None => format!("python {program}"),
    }
}

fn known_issues(c: &Campaign) -> Markup {
    let known = c.known();
    html! {
        @if !known.is_empty() {
            section #known {
                h2 { "Known issues" }
                table {
                    thead { tr { th.num { "hits" } th { "issue" } th { "pattern" } th { "note" } } }
                    tbody {
                        @for k in known {
                            tr.unhit[k.hits == 0] {
                                td.num { (k.hits) }
                                td { @match &k.issue.issue {
                                    Some(i) if i.starts_with("https://") || i.starts_with("http://") => a href=(i) { (i) },
                                    Some(i) => (i),
                                    None => "-",
                                } }
                                td { code { (k.pattern) } }
                                td { (k.issue.note.as_deref().unwrap_or("")) @if k.hits == 0 { " " em { "not hit in these results (fixed?)" } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn flaky(c: &Campaign) -> Markup {
    let n = c.tally.count("flaky");
    html! {
        @if n > 0 {
            section #flaky {
                h2 { "Flaky programs" }
                p { (plural(n, "program")) " failed and then passed when run again in a fresh executor (" code { "--retries" } "); they count as passed." }
                table {
                    thead { tr { th { "program" } th.num { "failed runs before it passed" } } }
                    tbody { @for (p, runs) in &c.flaky { tr { td { code { (p) } } td.num { (runs) } } } }
                }
                @if n > c.flaky.len() { p { "… and " (n - c.flaky.len()) " more." } }
            }
        }
    }
}

fn charts(c: &Campaign) -> Markup {
    let histogram = histogram_svg(c);
    let throughput = throughput_svg(c);
    html! {
        section #charts {
            h2 { "Program times and throughput" }
            div.charts {
                @if let Some(svg) = histogram { figure { (PreEscaped(svg)) figcaption { "Programs by time (log scale; failures stacked in red)." } } }
                @if let Some(svg) = throughput { figure { (PreEscaped(svg)) figcaption { "Programs finished over the run." } } }
            }
        }
    }
}

fn histogram_svg(c: &Campaign) -> Option<String> {
    let used: Vec<usize> = (0..HISTOGRAM_BINS).filter(|&i| c.histogram[i].0 + c.histogram[i].1 > 0).collect();
    let (&lo, &hi) = (used.first()?, used.last()?);
    let top = c.histogram.iter().map(|(a, b)| a + b).max().unwrap_or(1).max(1) as u64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CHART_SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_right(28)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(lo as f64..(hi + 1) as f64, 0u64..top + top.div_ceil(10))
            .ok()?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels((hi + 2 - lo).min(12))
            .x_label_formatter(&|x| human_time(histogram_edge(x.round() as usize)))
            .y_labels((top as usize + 1).min(8))
            .y_desc("programs")
            .draw()
            .ok()?;
        let ok = RGBColor(46, 139, 87);
        let bad = RGBColor(200, 55, 55);
        let bars = (lo..=hi).flat_map(|i| {
            let (pass, fail) = c.histogram[i];
            let (pass, fail) = (pass as u64, fail as u64);
            let (x0, x1) = (i as f64 + 0.08, i as f64 + 0.92);
            [
                Rectangle::new([(x0, 0), (x1, pass)], ok.filled()),
                Rectangle::new([(x0, pass), (x1, pass + fail)], bad.filled()),
            ]
        });
        chart.draw_series(bars).ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

fn throughput_svg(c: &Campaign) -> Option<String> {
    let bins = c.throughput(40);
    if bins.is_empty() {
        return None;
    }
    let width = bins[0].0;
    let end = bins.last()?.0;
    let top = bins.iter().map(|b| b.1 as f64 / width).fold(0.0, f64::max).max(1e-9);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CHART_SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..end, 0.0..top * 1.1)
            .ok()?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc("seconds since the first start")
            .y_desc("programs/s")
            .y_label_formatter(&|y| format!("{y:.1}"))
            .draw()
            .ok()?;
        let blue = RGBColor(50, 100, 200);
        chart
            .draw_series(bins.iter().map(|(at, n)| {
                Rectangle::new([(at - width, 0.0), (*at, *n as f64 / width)], blue.mix(0.75).filled())
            }))
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

fn slowest(c: &Campaign) -> Markup {
    html! {
        @if c.slowest().len() > 1 {
            section #slowest {
                h2 { "Slowest programs" }
                table {
                    thead { tr { th.num { "time" } th { "program" } } }
                    tbody { @for (secs, p) in c.slowest() { tr { td.num { (human_time(*secs)) } td { code { (p) } } } } }
                }
            }
        }
    }
}

fn tally_row(name: Markup, t: &Tally, total: f64) -> Markup {
    let share = if total > 0.0 { 100.0 * t.total() as f64 / total } else { 0.0 };
    html! {
        tr {
            td { (name) }
            td.num { (t.total()) }
            td.num { (t.count("passed") + t.count("flaky") + t.count("ignored")) }
            td.num { (t.failures()) }
            td.num { (human_time(t.busy)) }
            td.bar { span style=(format!("width:{share:.1}%")) {} }
        }
    }
}

fn tally_head(first: &str) -> Markup {
    html! { thead { tr { th { (first) } th.num { "programs" } th.num { "passed" } th.num { "failed" } th.num { "program time" } th { "share" } } } }
}

fn per_device(c: &Campaign) -> Markup {
    let total = c.tally.total() as f64;
    html! {
        @if c.devices.keys().any(Option::is_some) {
            section #devices {
                h2 { "Per device" }
                table {
                    (tally_head("CUDA_VISIBLE_DEVICES"))
                    tbody { @for (d, t) in &c.devices { (tally_row(html! { code { (d.as_deref().unwrap_or("(none)")) } }, t, total)) } }
                }
                @if c.other_devices > 0 { p { (c.other_devices) " programs on further devices are left out." } }
            }
        }
    }
}

fn per_worker(c: &Campaign) -> Markup {
    let total = c.tally.total() as f64;
    html! {
        @if !c.workers.is_empty() {
            section #workers {
                h2 { "Per worker" }
                table {
                    (tally_head("worker"))
                    tbody {
                        @for ((shard, w), t) in &c.workers {
                            @let name: Cow<'_, str> = match shard {
                                Some(s) => format!("shard {}/{}, worker {w}", s.index, s.count).into(),
                                None => format!("worker {w}").into(),
                            };
                            (tally_row(html! { (name) }, t, total))
                        }
                    }
                }
                @if c.other_workers > 0 { p { (c.other_workers) " programs of further workers are left out." } }
            }
        }
    }
}

fn engine_failures(c: &Campaign) -> Markup {
    let n = c.tally.count("engine_failed");
    html! {
        @if n > 0 {
            section #engine {
                h2 { "Engine failures" }
                p { (plural(n, "program")) " got no result of their own: the engine failed, not the program (" code { "--resume" } " runs them again)." }
                ul { @for (p, m) in &c.engine_failures { li { code { (p) } ": " (m) } } }
            }
        }
    }
}

/// Text as a report shows it: ANSI escape sequences and control characters other than tab and
/// newline dropped (the template engine escapes markup).
pub fn clean(s: &str) -> Cow<'_, str> {
    let s: Cow<'_, str> =
        if s.contains('\x1b') { Cow::Owned(strip_ansi_escapes::strip_str(s)) } else { s.into() };
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        Cow::Owned(s.chars().filter(|c| !c.is_control() || *c == '\n' || *c == '\t').collect())
    } else {
        s
    }
}

const STYLE: &str = r#"
:root{--fg:#1d232a;--muted:#5c6670;--bg:#fff;--line:#dde2e7;--soft:#f5f7f9;--ok:#2e8b57;--bad:#c83737;--warn:#b7791f;--info:#3264c8}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ec;--muted:#9aa4ae;--bg:#15191d;--line:#2c333a;--soft:#1d2227}svg{filter:invert(.88) hue-rotate(180deg)}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1180px;padding:24px 28px 48px;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}h4{margin:12px 0 4px;font-size:13px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.sub{color:var(--muted);margin:0 0 6px}.command{margin:0 0 16px;color:var(--muted);word-break:break-all}
.verdict{display:inline-block;padding:1px 10px;border-radius:6px;color:#fff;font-size:18px;vertical-align:2px}.verdict.pass{background:var(--ok)}.verdict.fail{background:var(--bad)}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 12px}
.card{min-width:112px;padding:10px 14px;border:1px solid var(--line);border-left:5px solid var(--muted);border-radius:8px;background:var(--soft)}
.card .n{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums}.card .what{color:var(--muted);font-size:13px}
.card.passed{border-left-color:var(--ok)}.card.flaky{border-left-color:var(--warn)}.card.ignored{border-left-color:var(--info)}
.card.failed,.card.crashed,.card.timed_out,.card.engine_failed{border-left-color:var(--bad)}
.figures p{margin:2px 0}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:14px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.sig,span.sig{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;word-break:break-word}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{margin:0;white-space:pre-wrap;word-break:break-word}
pre.out{max-height:420px;overflow:auto;padding:10px;background:var(--soft);border:1px solid var(--line);border-radius:6px}
pre.cmd{padding:4px 8px;background:var(--soft);border-radius:4px;display:inline-block}
.tag{display:inline-block;padding:0 7px;border-radius:10px;font-size:12px;color:#fff;background:var(--muted);white-space:nowrap}
.tag.failed,.tag.crashed,.tag.timed_out{background:var(--bad)}
details.bucket{border:1px solid var(--line);border-radius:8px;margin:10px 0;padding:6px 12px}
details.bucket summary{cursor:pointer;padding:4px 0}details.bucket .count{font-weight:650}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:8px 0}dt{color:var(--muted)}dd{margin:0}
tr.unhit td{color:var(--muted)}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{color:var(--muted);font-size:13px}
td.bar{width:22%}td.bar span{display:block;height:10px;border-radius:3px;background:var(--info);min-width:1px}
.none{color:var(--muted)}
footer{margin-top:40px;color:var(--muted);font-size:13px}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use runner_core::classify::KnownIssue;

    fn page(lines: &[&str]) -> String {
        let mut c = Campaign::new([("gone".to_string(), KnownIssue::default())]);
        for l in lines {
            c.add_line(l.as_bytes());
        }
        render(&c, &Source { title: "t<1>", command: None, remake: None })
    }

    #[test]
    fn the_page_escapes_what_programs_print_and_has_no_script_or_outside_reference() {
        let html = page(&[
            r#"{"program":"/a.py","status":"failed","duration":0.5,"returncode":1,"signature":"E: <b>","stderr":"<script>alert(1)</script>\u001b[31mred\u001b[0m"}"#,
        ]);
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;red"), "{html}");
        assert!(html.contains("E: &lt;b&gt;"));
        assert!(html.contains("t&lt;1&gt;"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no outside asset");
        assert!(!html.contains('\x1b'));
    }

    #[test]
    fn the_page_shows_counts_buckets_and_a_known_issue_not_hit() {
        let html = page(&[
            r#"{"program":"/a.py","status":"failed","duration":0.5,"returncode":1,"signature":"E: x","started_at":100.0}"#,
            r#"{"program":"/b.py","status":"passed","duration":0.01,"returncode":0,"started_at":100.2}"#,
        ]);
        assert!(html.contains(r#"data-status="failed""#));
        assert!(html.contains(&format!(r#"data-bucket="{}""#, crate::campaign::bucket_id("E: x"))));
        assert!(html.contains("not hit in these results"));
        assert!(html.contains("<svg"), "charts are inline SVG");
        assert!(html.starts_with("<!DOCTYPE html>"));
    }

    #[test]
    fn the_python_command_quotes_what_a_shell_would_split() {
        assert_eq!(python_command(Some("1"), "/a b.py"), "CUDA_VISIBLE_DEVICES=1 python '/a b.py'");
        assert_eq!(python_command(None, "/a.py"), "python /a.py");
    }
}
