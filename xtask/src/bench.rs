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
         ## Sharding and merging a campaign\n\n<!-- shards -->\n{}\n<!-- /shards -->\n\n\
         ## GPU machine\n\n<!-- gpu -->\n{}\n<!-- /gpu -->\n",
        started.elapsed().as_secs_f64(),
        machine(&python, &runner)?,
        sections,
        memory,
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
