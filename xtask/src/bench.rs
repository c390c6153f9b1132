//! `cargo xtask bench`: generates the standard corpora (bench/make_corpus.py), runs `runner bench` on
//! each with the test environment's Python, and rewrites BENCHMARKS.md with the tables, charts, the
//! machine, the versions and the exact commands. The GPU section of BENCHMARKS.md (between the
//! `<!-- gpu -->` markers) is kept as it is: it is measured on the GPU machine, not here.
//!
//! `--only memory` is a step of its own: `runner batch` over a million empty programs (and ten
//! thousand, to show that the peak does not grow with the corpus), with and without `--junit`, and
//! the peak RSS of each run (`ru_maxrss` from `wait4`: the runner and every process of it that it
//! reaped, its worker and executors included). It replaces only the memory section of BENCHMARKS.md
//! (between the `<!-- memory -->` markers), which the other corpora keep as it is;
//! `--only memory-quick` measures ten thousand programs and prints the table without writing it.
//!
//! `--only serve` is a step of its own too: the per-program overhead of a caller that runs one
//! program at a time through `runner serve` (runner_client's `ProgramRunner.run` from Python, and
//! `runner run --server`) beside `runner batch`'s on the same empty programs, round by round in a
//! rotated order within one invocation, plus what such a caller pays without a server (`runner
//! validate` per program, `python prog.py`). It replaces the serve section of BENCHMARKS.md (between
//! the `<!-- serve -->` markers).
//!
//! `--only shards` is another step of its own ([`crate::shards`]): the shard choice over a million
//! paths, `runner merge` of 200 shard files with ten million records, and the evenness of the hash
//! partition; it replaces the shards section (between the `<!-- shards -->` markers), and
//! `--only shards-quick` prints a smaller run's section.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

/// One standard corpus: what it is, how many programs, rounds, and what the zygote preloads.
struct Corpus {
    kind: &'static str,
    title: &'static str,
    count: usize,
    repeat: usize,
    preload: &'static str,
    needs_torch: bool,
}

const CORPORA: &[Corpus] = &[
    Corpus { kind: "empty", title: "Empty programs", count: 200, repeat: 3, preload: "", needs_torch: false },
    Corpus {
        kind: "pure_python",
        title: "Pure-Python work",
        count: 100,
        repeat: 3,
        preload: "",
        needs_torch: false,
    },
    Corpus { kind: "numpy", title: "numpy", count: 50, repeat: 3, preload: "numpy", needs_torch: false },
    Corpus {
        kind: "torch_eager",
        title: "torch eager (CPU)",
        count: 20,
        repeat: 2,
        preload: "torch",
        needs_torch: true,
    },
    Corpus {
        kind: "torch_compile",
        title: "torch eager + torch.compile (CPU, torchfuzz shape)",
        count: 6,
        repeat: 1,
        // torch alone: what compile programs import beyond it stays with the warm executor.
        preload: "torch",
        needs_torch: true,
    },
];

/// The memory step's corpus sizes: the full one, and the small one beside it.
const MEMORY_PROGRAMS: usize = 1_000_000;
const MEMORY_PROGRAMS_QUICK: usize = 10_000;

/// Runs the benchmarks and rewrites BENCHMARKS.md. `only` limits the corpora by kind (`memory` and
/// `memory-quick` are the memory step).
pub fn run(root: &Path, only: &[String]) -> Result<()> {
    let python = crate::testenv::ensure(root)?;
    crate::run(Command::new("cargo").args(["build", "--release", "-p", "runner-cli"]).current_dir(root))?;
    let runner = root.join("target/release/runner");
    if !only.is_empty() && only.iter().all(|o| o == "serve") {
        let section = serve(root, &python, &runner)?;
        return replace_block(&root.join("BENCHMARKS.md"), "serve", &section);
    }
    if !only.is_empty() && only.iter().all(|o| o.starts_with("shards")) {
        if only.iter().any(|o| o == "shards") {
            let section = crate::shards::run(root, &python, &runner, &crate::shards::FULL)?;
            return replace_block(&root.join("BENCHMARKS.md"), "shards", &section);
        }
        println!("{}", crate::shards::run(root, &python, &runner, &crate::shards::QUICK)?);
        return Ok(());
    }
    let memory_only = !only.is_empty() && only.iter().all(|o| o.starts_with("memory"));
    if memory_only {
        if only.iter().any(|o| o == "memory") {
            let section = memory(root, &python, &runner, &[MEMORY_PROGRAMS_QUICK, MEMORY_PROGRAMS])?;
            return replace_block(&root.join("BENCHMARKS.md"), "memory", &section);
        }
        println!("{}", memory(root, &python, &runner, &[MEMORY_PROGRAMS_QUICK])?);
        return Ok(());
    }
    let work = root.join("target/bench");
    let charts = root.join("bench/charts");
    std::fs::create_dir_all(&charts)?;
    let has_torch = Command::new(&python).args(["-c", "import torch"]).status().is_ok_and(|s| s.success());
    let started = std::time::Instant::now();
    let mut sections = String::new();
    for c in CORPORA.iter().filter(|c| only.is_empty() || only.iter().any(|o| o == c.kind)) {
        if c.needs_torch && !has_torch {
            writeln!(
                sections,
                "## {}\n\nSkipped: torch is not installed in the test environment.\n",
                c.title
            )?;
            continue;
        }
        let dir = work.join("corpora").join(c.kind);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        crate::run(
            Command::new(&python)
                .arg(root.join("bench/make_corpus.py"))
                .arg(&dir)
                .arg(c.kind)
                .args(["--count", &c.count.to_string()]),
        )?;
        let md = work.join(format!("{}.md", c.kind));
        let chart = charts.join(format!("{}.svg", c.kind));
        // Side by side with what a user would write instead (bench/peers.py).
        let mut args: Vec<String> = vec![
            "bench".into(),
            rel(root, &dir),
            "--repeat".into(),
            c.repeat.to_string(),
            "--peers".into(),
            "forkserver,reused".into(),
        ];
        if !c.preload.is_empty() {
            args.extend(["--preload".into(), c.preload.into()]);
        }
        let shown = format!("runner {} --python <test env>/bin/python", args.join(" "));
        args.extend(["--python".into(), python.display().to_string()]);
        args.extend([
            "--markdown".into(),
            md.display().to_string(),
            "--chart".into(),
            chart.display().to_string(),
        ]);
        args.extend(["--json".into(), work.join(format!("{}.json", c.kind)).display().to_string()]);
        crate::run(Command::new(&runner).args(&args).current_dir(root))?;
        let table = std::fs::read_to_string(&md)?;
        writeln!(
            sections,
            "## {}\n\n{} programs, {} round(s){}.\n\n```sh\n{shown}\n```\n\n{table}\n![{}](bench/charts/{}.svg)\n",
            c.title,
            c.count,
            c.repeat,
            if c.preload.is_empty() { String::new() } else { format!(", preload `{}`", c.preload) },
            c.title,
            c.kind
        )?;
    }
    let path = root.join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let block = |name: &str| {
        old.split_once(&format!("<!-- {name} -->"))
            .and_then(|(_, rest)| rest.split_once(&format!("<!-- /{name} -->")))
            .map(|(inside, _)| inside.trim().to_string())
            .unwrap_or_else(|| "Not measured yet.".to_string())
    };
    let gpu = block("gpu");
    let memory = block("memory");
    let serve = block("serve");
    let shards = block("shards");
    let text = format!(
        "# Benchmarks\n\n\
         Generated by `cargo xtask bench` ({:.0} s on this machine); every number comes from `runner bench`,\n\
         which runs the modes side by side in one invocation, round by round, in a rotated order. Columns:\n\
         *first result* is the time from the start of a mode's run (engine start-up and preloads included) to\n\
         its first result; *overhead* is a program's duration minus its own time (as the executors measure it,\n\
         the least over all embedded runs); *speedup per program* compares median program times (steady\n\
         state), *speedup wall* the corpus's total wall time (start-up included), each as median (min–max)\n\
         over the rounds. The floors are `python -c pass` and a bare fork + exit + wait of the zygote with the\n\
         same preloads. The peers are what a user would write instead (`bench/peers.py`, run in the same rounds):\n\
         a multiprocessing forkserver with the same preloads and a fresh child per program, and a pool of\n\
         processes reused with no reset (not faithful: the upper bound on speed); the second table of each\n\
         corpus gives runner's speedup over each.\n\n{}\n{}## Memory of a large batch\n\n<!-- memory -->\n{}\n<!-- /memory -->\n\n\
         ## One program at a time, through a server\n\n<!-- serve -->\n{}\n<!-- /serve -->\n\n\
         ## Sharding and merging a campaign\n\n<!-- shards -->\n{}\n<!-- /shards -->\n\n\
         ## GPU machine\n\n<!-- gpu -->\n{}\n<!-- /gpu -->\n",
        started.elapsed().as_secs_f64(),
        machine(&python, &runner)?,
        sections,
        memory,
        serve,
        shards,
        gpu
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: wrote {} in {:.0} s", path.display(), started.elapsed().as_secs_f64());
    Ok(())
}

/// Replaces what lies between `<!-- name -->` and `<!-- /name -->` in `path` with `inside`.
fn replace_block(path: &Path, name: &str, inside: &str) -> Result<()> {
    let old = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (open, close) = (format!("<!-- {name} -->"), format!("<!-- /{name} -->"));
    let (before, rest) =
        old.split_once(&open).with_context(|| format!("{} has no {open} marker", path.display()))?;
    let (_, after) =
        rest.split_once(&close).with_context(|| format!("{} has no {close} marker", path.display()))?;
    std::fs::write(path, format!("{before}{open}\n{}\n{close}{after}", inside.trim()))
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: wrote the {name} section of {}", path.display());
    Ok(())
}

/// One `runner batch` run of the memory step.
struct MemoryRun {
    programs: usize,
    outputs: &'static str,
    wall: f64,
    peak_kib: u64,
}

/// The memory step: for each corpus size, empty programs in a temporary directory under
/// `target/bench`, then `runner batch -q --mode warm` (default workers) with `-o`, with `-o` and
/// `--junit`, and with `--junit` alone (the spool); the records are counted to check each run.
/// Returns the Markdown section.
fn memory(root: &Path, python: &Path, runner: &Path, sizes: &[usize]) -> Result<String> {
    let work = root.join("target/bench/memory");
    std::fs::create_dir_all(&work)?;
    let mut runs = Vec::new();
    for &count in sizes {
        let dir = tempfile_dir(&work, count)?;
        let corpus = dir.join("corpus");
        eprintln!("xtask: writing {count} empty programs under {}", corpus.display());
        for i in 0..count {
            // A thousand a directory, as a campaign's corpus would be split.
            let sub = corpus.join(format!("d{:04}", i / 1000));
            if i % 1000 == 0 {
                std::fs::create_dir_all(&sub)?;
            }
            std::fs::write(sub.join(format!("p{i:07}.py")), "pass\n")?;
        }
        for outputs in ["-o", "-o --junit", "--junit"] {
            let jsonl = dir.join("results.jsonl");
            let junit = dir.join("junit.xml");
            let mut cmd = Command::new(runner);
            cmd.args(["batch", "-q", "--mode", "warm", "--python"]).arg(python).arg(&corpus);
            if outputs.contains("-o") {
                cmd.arg("-o").arg(&jsonl);
            }
            if outputs.contains("--junit") {
                cmd.arg("--junit").arg(&junit);
            }
            cmd.stdout(std::process::Stdio::null());
            eprintln!("xtask: {count} programs, {outputs}: running {cmd:?}");
            let (wall, peak_kib) = run_measured(&mut cmd)?;
            if outputs.contains("-o") {
                let lines = count_bytes(&jsonl, b"\n")?;
                anyhow::ensure!(lines == count, "{}: {lines} records, want {count}", jsonl.display());
            }
            if outputs.contains("--junit") {
                let cases = count_bytes(&junit, b"<testcase ")?;
                anyhow::ensure!(cases == count, "{}: {cases} test cases, want {count}", junit.display());
            }
            let _ = std::fs::remove_file(&jsonl);
            let _ = std::fs::remove_file(&junit);
            eprintln!("xtask: {count} programs, {outputs}: peak RSS {} KiB, {wall:.1} s", peak_kib);
            runs.push(MemoryRun { programs: count, outputs, wall, peak_kib });
        }
        std::fs::remove_dir_all(&dir)?;
    }
    let mut table = String::from(
        "| programs | outputs | peak RSS | wall | programs/s |\n| --- | --- | --- | --- | --- |\n",
    );
    for r in &runs {
        writeln!(
            table,
            "| {} | `{}` | {:.1} MiB | {:.1} s | {:.0} |",
            r.programs,
            r.outputs,
            r.peak_kib as f64 / 1024.0,
            r.wall,
            r.programs as f64 / r.wall
        )?;
    }
    Ok(format!(
        "Generated by `cargo xtask bench --only memory`: `runner batch -q --mode warm --python <test env>/bin/python \
         CORPUS` with the default workers over empty programs (`pass`, a thousand a directory), with the outputs \
         shown. Peak RSS is `ru_maxrss` from `wait4`: the largest of the runner and the processes of it that it \
         reaped (its worker and executors). What the runner keeps grows with the work in flight, not with the \
         corpus: the program list (its paths' bytes and 12 bytes a program) is the only part that grows, and the \
         JUnit report is streamed from the records on disk.\n\n{}\n{table}",
        machine(&python.to_path_buf(), runner)?
    ))
}

/// The serve step's corpus: empty programs (`pass`), each run once per round by each path.
const SERVE_PROGRAMS: usize = 200;
/// Of them, how many `runner run --server` runs per round (a process each).
const SERVE_CLI_PROGRAMS: usize = 50;
/// Of them, how many the paths without a server run per round (an engine start, or a python, each).
const SERVE_COLD_PROGRAMS: usize = 10;
/// Rounds of the serve step.
const SERVE_ROUNDS: usize = 3;

/// The ways of running one program that the serve step compares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ServePath {
    /// `runner batch -j 1` over the whole corpus: the reference.
    Batch,
    /// runner_client's `ProgramRunner.run` per program, through the server.
    PythonClient,
    /// `runner run --server` per program.
    RunServer,
    /// `runner validate --json` per program, without a server (an engine started each time).
    ValidateCold,
    /// `python prog.py` per program (what ProgramRunner itself runs).
    Python,
}

impl ServePath {
    const ALL: [ServePath; 5] = [
        ServePath::Batch,
        ServePath::PythonClient,
        ServePath::RunServer,
        ServePath::ValidateCold,
        ServePath::Python,
    ];

    fn label(self) -> &'static str {
        match self {
            ServePath::Batch => "`runner batch -j 1` (reference)",
            ServePath::PythonClient => "runner_client `ProgramRunner.run` (Python), through the server",
            ServePath::RunServer => "`runner run --server`, a process per program",
            ServePath::ValidateCold => "`runner validate --json`, no server: an engine per program",
            ServePath::Python => "`python prog.py` (what ProgramRunner runs)",
        }
    }
}

/// One program's time as its caller saw it, and the program's own time.
struct Timing {
    /// From the caller's start of the program to its result (for the batch: the result's duration).
    seen: f64,
    /// The program's own time (the executor's `program_time`; zero for `python prog.py`).
    own: f64,
}

/// The serve step: a warm `runner serve -j 1` and `runner batch -j 1` (both warm mode, no preloads,
/// the test Python) over the same empty programs, each path once per round in a rotated order.
/// Returns the Markdown section.
fn serve(root: &Path, python: &Path, runner: &Path) -> Result<String> {
    use std::io::{BufRead, BufReader};
    let work = root.join("target/bench/serve");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    let corpus = work.join("corpus");
    crate::run(
        Command::new(python)
            .arg(root.join("bench/make_corpus.py"))
            .arg(&corpus)
            .arg("empty")
            .args(["--count", &SERVE_PROGRAMS.to_string()]),
    )?;
    let mut programs: Vec<PathBuf> =
        std::fs::read_dir(&corpus)?.map(|e| Ok(e?.path())).collect::<Result<_>>()?;
    programs.sort();
    let socket = work.join("socket");
    let served = work.join("served.jsonl");
    let mut server = Command::new(runner)
        .args(["serve", "-j", "1", "--mode", "warm", "--quiet", "--python"])
        .arg(python)
        .arg("--socket")
        .arg(&socket)
        .arg("-o")
        .arg(&served)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting runner serve")?;
    let mut ready = String::new();
    BufReader::new(server.stdout.take().expect("piped")).read_line(&mut ready)?;
    anyhow::ensure!(ready.starts_with("runner serve: listening"), "runner serve did not start: {ready:?}");
    let measured = serve_rounds(root, python, runner, &programs, &socket, &served);
    // SAFETY: kill with our own child's pid and a plain signal.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
    let status = server.wait()?;
    let timings = measured?;
    anyhow::ensure!(status.code() == Some(130), "runner serve ended with {status}");

    let overhead = |path: ServePath| {
        let mut v: Vec<f64> =
            timings.iter().filter(|(p, _)| *p == path).map(|(_, t)| t.seen - t.own).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let seen = |path: ServePath| {
        let mut v: Vec<f64> = timings.iter().filter(|(p, _)| *p == path).map(|(_, t)| t.seen).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let batch = percentile(&overhead(ServePath::Batch), 0.5);
    let mut table = String::from(
        "| path | programs | time per program, median / p90 | overhead, median / p90 | overhead beyond batch's (median) |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    for path in ServePath::ALL {
        let (o, s) = (overhead(path), seen(path));
        writeln!(
            table,
            "| {} | {} | {} / {} | {} / {} | {} |",
            path.label(),
            o.len(),
            human(percentile(&s, 0.5)),
            human(percentile(&s, 0.9)),
            human(percentile(&o, 0.5)),
            human(percentile(&o, 0.9)),
            if path == ServePath::Batch {
                "-".to_string()
            } else {
                format!("+{}", human(percentile(&o, 0.5) - batch))
            }
        )?;
    }
    let python_client = percentile(&overhead(ServePath::PythonClient), 0.5) - batch;
    let run_server = percentile(&overhead(ServePath::RunServer), 0.5) - batch;
    Ok(format!(
        "Generated by `cargo xtask bench --only serve`: a warm `runner serve -j 1 --mode warm --python <test env>/bin/python` \
         (started once, before the rounds) and `runner batch -j 1 --mode warm` over the same {SERVE_PROGRAMS} empty programs \
         (`pass`), {SERVE_ROUNDS} rounds, each path once a round in a rotated order. A program's *time* is what its \
         caller waited: the round trip of `ProgramRunner.run` (`bench/serve_client.py`, one connection kept), the wall \
         time of a `runner run --server` process ({SERVE_CLI_PROGRAMS} programs a round), for the batch the result's \
         `duration`. *Overhead* is that time minus the program's own (`program_time`, as the executor measured it; the \
         server's `-o` record gives it for `runner run --server`). The last two rows ({SERVE_COLD_PROGRAMS} programs a \
         round) are what a one-program-at-a-time caller pays without a server.\n\n{}\n{table}\n\
         Through the server, the Python client's overhead is {} beyond the batch's (target: within 1 ms); \
         `runner run --server` adds a process start of its own ({} beyond).\n",
        machine(&python.to_path_buf(), runner)?,
        human(python_client),
        human(run_server),
    ))
}

/// The rounds of the serve step: every path once a round, the order rotated.
fn serve_rounds(
    root: &Path,
    python: &Path,
    runner: &Path,
    programs: &[PathBuf],
    socket: &Path,
    served: &Path,
) -> Result<Vec<(ServePath, Timing)>> {
    let mut timings = Vec::new();
    let mut served_seen = 0;
    for round in 0..SERVE_ROUNDS {
        let mut order = ServePath::ALL;
        order.rotate_left(round % ServePath::ALL.len());
        for path in order {
            eprintln!("xtask: serve round {}: {}", round + 1, path.label());
            match path {
                ServePath::Batch => {
                    let jsonl = root.join("target/bench/serve/batch.jsonl");
                    let dir = programs[0].parent().expect("a corpus directory");
                    let out = Command::new(runner)
                        .args(["batch", "-j", "1", "-q", "--mode", "warm", "--python"])
                        .arg(python)
                        .arg("-o")
                        .arg(&jsonl)
                        .arg(dir)
                        .output()?;
                    anyhow::ensure!(
                        out.status.success(),
                        "runner batch failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    for line in std::fs::read_to_string(&jsonl)?.lines() {
                        let r: serde_json::Value = serde_json::from_str(line)?;
                        timings.push((path, timing_of(&r, r["duration"].as_f64())?));
                    }
                }
                ServePath::PythonClient => {
                    let out = Command::new(python)
                        .arg(root.join("bench/serve_client.py"))
                        .arg(socket)
                        .args(programs)
                        .env("PYTHONPATH", root.join("python/runner-client/src"))
                        .output()?;
                    anyhow::ensure!(
                        out.status.success(),
                        "serve_client.py failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
                    for r in &list {
                        timings.push((path, timing_of(r, r["round_trip"].as_f64())?));
                    }
                }
                ServePath::RunServer => {
                    for program in &programs[..SERVE_CLI_PROGRAMS] {
                        let started = std::time::Instant::now();
                        let out = Command::new(runner)
                            .args(["run", "--server"])
                            .arg(socket)
                            .arg(program)
                            .output()?;
                        let wall = started.elapsed().as_secs_f64();
                        anyhow::ensure!(out.status.success(), "runner run --server failed: {out:?}");
                        // The server wrote the program's record before it answered.
                        let records = std::fs::read_to_string(served)?;
                        let record = records.lines().nth(served_seen).context("the server's record")?;
                        served_seen += 1;
                        let r: serde_json::Value = serde_json::from_str(record)?;
                        anyhow::ensure!(r["program"] == program.to_str().unwrap_or_default(), "{record}");
                        timings.push((path, timing_of(&r, Some(wall))?));
                    }
                }
                ServePath::ValidateCold => {
                    for program in &programs[..SERVE_COLD_PROGRAMS] {
                        let started = std::time::Instant::now();
                        let out = Command::new(runner)
                            .args(["validate", "--json", "--mode", "warm", "--python"])
                            .arg(python)
                            .arg(program)
                            .output()?;
                        let wall = started.elapsed().as_secs_f64();
                        anyhow::ensure!(out.status.success(), "runner validate failed: {out:?}");
                        let r: serde_json::Value = serde_json::from_slice(&out.stdout)?;
                        timings.push((path, timing_of(&r, Some(wall))?));
                    }
                }
                ServePath::Python => {
                    for program in &programs[..SERVE_COLD_PROGRAMS] {
                        let started = std::time::Instant::now();
                        let out = Command::new(python).arg(program).output()?;
                        let seen = started.elapsed().as_secs_f64();
                        anyhow::ensure!(out.status.success(), "python {} failed", program.display());
                        timings.push((path, Timing { seen, own: 0.0 }));
                    }
                }
            }
            // Every request of the Python client and of `runner run --server` left a record.
            served_seen = std::fs::read_to_string(served)?.lines().count();
        }
    }
    Ok(timings)
}

/// A timing from a result object and the time its caller saw.
fn timing_of(result: &serde_json::Value, seen: Option<f64>) -> Result<Timing> {
    let own = result["program_time"].as_f64().with_context(|| format!("no program_time in {result}"))?;
    Ok(Timing { seen: seen.with_context(|| format!("no time in {result}"))?, own })
}

/// The `q` quantile of sorted values (nearest rank); NaN for none.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Seconds as µs or ms.
fn human(secs: f64) -> String {
    if secs.abs() < 1e-3 {
        format!("{:.0} µs", secs * 1e6)
    } else {
        format!("{:.2} ms", secs * 1e3)
    }
}

/// A fresh directory for one corpus size.
fn tempfile_dir(work: &Path, count: usize) -> Result<PathBuf> {
    let dir = work.join(format!("n{count}"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Runs `cmd` (it must succeed) and returns its wall time and `ru_maxrss` (KiB) from `wait4`.
fn run_measured(cmd: &mut Command) -> Result<(f64, u64)> {
    let started = std::time::Instant::now();
    let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, which nothing else reaps (the Child is never waited on).
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_secs_f64();
    anyhow::ensure!(pid > 0, "wait4: {}", std::io::Error::last_os_error());
    anyhow::ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed: wait status {status}"
    );
    Ok((wall, usage.ru_maxrss as u64))
}

/// How many times `needle` occurs in the file, read in chunks.
fn count_bytes(path: &Path, needle: &[u8]) -> Result<usize> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut count, mut carry) = (0, Vec::new());
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(count);
        }
        carry.extend_from_slice(&buf[..n]);
        count += carry.windows(needle.len()).filter(|w| *w == needle).count();
        // Keep the last needle.len() - 1 bytes: a match across two chunks is counted once.
        let keep = carry.len().min(needle.len() - 1);
        carry.drain(..carry.len() - keep);
    }
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

fn output(cmd: &mut Command) -> String {
    cmd.output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
}

/// The machine and versions, as a Markdown list.
pub fn machine(python: &PathBuf, runner: &Path) -> Result<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let versions = output(Command::new(python).args([
        "-c",
        "import sys\ntry:\n import numpy; n = numpy.__version__\nexcept Exception: n = '-'\ntry:\n import torch; t = torch.__version__\nexcept Exception: t = '-'\nprint(sys.version.split()[0], n, t)",
    ]));
    let mut v = versions.split_whitespace();
    let (py, np, torch) = (v.next().unwrap_or("?"), v.next().unwrap_or("?"), v.next().unwrap_or("?"));
    Ok(format!(
        "Machine: {model}, {cores} cores, {mem_gib:.0} GiB; {}; `{}`; Python {py}, numpy {np}, torch {torch}; {}.\n",
        output(Command::new("uname").arg("-sr")),
        output(Command::new(runner).arg("--version")),
        output(Command::new("date").args(["-u", "+%Y-%m-%d"])),
    ))
}
