//! `runner bench`: the same corpus in several modes within one invocation, round by round with the
//! order of the modes rotated each round so that drift of the machine hits every mode alike. It
//! measures per mode the time to the first result (engine start-up included: zygote and preloads),
//! runner's per-program overhead, total wall time, throughput and peak memory of the runner and all
//! its processes, the speedup against `subprocess`, and two floors: `python -c pass` and a bare
//! fork + exit + wait of the preloaded zygote. With `--peers` it also times, in the same rounds, what a
//! user would write instead (`bench/peers.py`: a preloaded multiprocessing forkserver with a fresh
//! child per program, and a reused pool that resets nothing) and gives every mode's ratios against
//! them. It prints a table and can write JSON, Markdown and an SVG chart of per-program times.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use runner_core::{Mode, ProgramSpec, RunConfig};
use runner_embed::dispatcher::{self, Cancel, Event, Job};
use runner_embed::Engines;

use crate::cli::BenchCmd;
use crate::error::CliError;
use crate::exit_code;
use crate::settings::{self, SettingsError};
use crate::text::human_time;

/// How many times each floor is measured per round.
const FLOOR_SAMPLES: usize = 10;

/// The peers, written by hand the way a user would (bench/peers.py), run with the selected Python.
const PEERS_PY: &str = include_str!("../../bench/peers.py");

/// What a user would run instead of runner.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Peer {
    /// A multiprocessing forkserver with the same preloads and a fresh child per program.
    Forkserver,
    /// Processes forked from that forkserver and reused for program after program, with no reset:
    /// not faithful, the upper bound on speed.
    Reused,
}

impl Peer {
    fn arg(self) -> &'static str {
        match self {
            Peer::Forkserver => "forkserver",
            Peer::Reused => "reused",
        }
    }
}

/// One row of the report: a mode of runner's, or a peer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Contender {
    Runner(Mode),
    Peer(Peer),
}

impl std::fmt::Display for Contender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Contender::Runner(mode) => write!(f, "{mode}"),
            Contender::Peer(Peer::Forkserver) => f.write_str("peer: forkserver"),
            Contender::Peer(Peer::Reused) => f.write_str("peer: reused pool (not faithful)"),
        }
    }
}

impl Serialize for Contender {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One contender's run over the corpus in one round.
struct ModeRun {
    mode: Contender,
    first_result: f64,
    wall: f64,
    peak_memory: u64,
    /// (program, duration, program_time, success)
    programs: Vec<(PathBuf, f64, Option<f64>, bool)>,
}

/// The report, as `--json` writes it.
#[derive(Serialize)]
struct Report {
    programs: usize,
    workers: usize,
    repeat: usize,
    python: String,
    python_version: String,
    preload: Vec<String>,
    floors: Floors,
    modes: Vec<ModeStats>,
}

#[derive(Serialize)]
struct Floors {
    /// Median seconds of `python -c pass`.
    python_c_pass: f64,
    /// Median seconds of fork + _exit + wait of the preloaded zygote (None without an embedded mode).
    bare_fork: Option<f64>,
}

#[derive(Serialize)]
struct ModeStats {
    mode: Contender,
    /// Median over rounds, seconds from the start of the mode's run (engine start-up included).
    first_result: f64,
    /// Per-program overhead (duration minus the program's own time), median and 90th percentile.
    overhead_median: f64,
    overhead_p90: f64,
    /// Per-program duration, median.
    program_median: f64,
    /// Median over rounds of the wall time for the whole corpus.
    wall: f64,
    programs_per_second: f64,
    /// Largest proportional set size of the runner and all its processes, bytes.
    peak_memory: u64,
    /// Wall time of subprocess mode over this mode's, per round: median, min, max.
    speedup: Option<Spread>,
    /// Median program time in subprocess mode over this mode's, per round: the steady-state gain,
    /// start-up of the engine left out.
    speedup_per_program: Option<Spread>,
    failures: usize,
    /// Against each peer run in the same invocation: its median program time over this mode's, per
    /// round, and likewise its wall time (runner's modes only).
    against: Vec<Against>,
    /// Every program duration of every round (for charts).
    durations: Vec<f64>,
}

#[derive(Serialize)]
struct Against {
    peer: Contender,
    per_program: Spread,
    wall: Spread,
}

#[derive(Serialize, Clone, Copy)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

/// Runs the bench command.
pub fn execute(cmd: BenchCmd) -> Result<i32, CliError> {
    let base = settings::run_config(&cmd.flags)?;
    let programs: Vec<PathBuf> =
        crate::inputs::collect(&cmd.inputs, &[])?.0.iter().map(Path::to_path_buf).collect();
    if programs.is_empty() {
        return Err(SettingsError::BadValue { flag: "CORPUS", reason: "no .py programs found".into() }.into());
    }
    let modes = parse_modes(&cmd.modes)?;
    let peers = parse_peers(&cmd.peers)?;
    let contenders: Vec<Contender> = modes
        .iter()
        .map(|&m| Contender::Runner(m))
        .chain(peers.iter().map(|&p| Contender::Peer(p)))
        .collect();
    if cmd.repeat == 0 {
        return Err(SettingsError::BadValue { flag: "--repeat", reason: "must be at least 1".into() }.into());
    }
    settings::workers(Some(cmd.workers), "--workers")?;
    let python_version = python_version(&base.python);
    let mut runs: Vec<ModeRun> = Vec::new();
    let mut python_floor = Vec::new();
    let mut fork_floor = Vec::new();
    for round in 0..cmd.repeat {
        python_floor.extend(time_python_c_pass(&base.python, FLOOR_SAMPLES));
        for k in 0..contenders.len() {
            let contender = contenders[(k + round) % contenders.len()];
            if !cmd.quiet {
                eprintln!(
                    "runner bench: round {}/{}, {contender}, {} programs",
                    round + 1,
                    cmd.repeat,
                    programs.len()
                );
            }
            match contender {
                Contender::Runner(mode) => {
                    let mut config = base.clone();
                    config.mode = mode;
                    let (run, floors) = run_mode(&config, &programs, cmd.workers)?;
                    fork_floor.extend(floors);
                    runs.push(run);
                }
                Contender::Peer(peer) => runs.push(run_peer(&base, &programs, cmd.workers, peer)?),
            }
        }
    }
    let report =
        summarise(&cmd, &base, python_version, &programs, &contenders, &runs, &python_floor, &fork_floor);
    write_stdout(&table_text(&report))?;
    if let Some(path) = &cmd.json {
        let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
        write_output(path, &text)?;
    }
    if let Some(path) = &cmd.markdown {
        write_output(path, &markdown(&report))?;
    }
    if let Some(path) = &cmd.chart {
        crate::chart::write(
            path,
            &report.modes.iter().map(|m| (m.mode.to_string(), m.durations.clone())).collect::<Vec<_>>(),
        )
        .map_err(|e| SettingsError::Unwritable { path: path.clone(), source: std::io::Error::other(e) })?;
    }
    Ok(exit_code::PASSED)
}

/// Writes to stdout; a closed pipe (`| head`) comes back as an error for main to end on quietly.
fn write_stdout(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn write_output(path: &Path, text: &str) -> Result<(), CliError> {
    if path == Path::new("-") {
        return write_stdout(&format!("{text}\n"));
    }
    std::fs::write(path, text)
        .map_err(|source| SettingsError::Unwritable { path: path.to_path_buf(), source })?;
    Ok(())
}

fn parse_modes(list: &str) -> Result<Vec<Mode>, SettingsError> {
    let names = Mode::ALL.map(|m| (m.as_str(), m));
    let modes = parse_list(list, "--modes", &names)?;
    if modes.is_empty() {
        return Err(SettingsError::BadValue { flag: "--modes", reason: "no mode given".into() });
    }
    Ok(modes)
}

fn parse_peers(list: &str) -> Result<Vec<Peer>, SettingsError> {
    parse_list(list, "--peers", &[("forkserver", Peer::Forkserver), ("reused", Peer::Reused)])
}

/// A comma-separated list of names among `names`, each kept once, in the order given.
fn parse_list<T: Copy + PartialEq>(
    list: &str,
    flag: &'static str,
    names: &[(&str, T)],
) -> Result<Vec<T>, SettingsError> {
    let mut items = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some(&(_, item)) = names.iter().find(|(n, _)| *n == name) else {
            let known: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
            return Err(SettingsError::BadValue {
                flag,
                reason: format!("{name:?} is not one of {}", known.join(", ")),
            });
        };
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Ok(items)
}

/// Runs the corpus once through a peer (bench/peers.py, with the configured Python, preloads and
/// environment); its per-program durations come from its report.
fn run_peer(
    config: &RunConfig,
    programs: &[PathBuf],
    workers: usize,
    peer: Peer,
) -> Result<ModeRun, CliError> {
    let unwritable =
        |path: &Path, source: std::io::Error| SettingsError::Unwritable { path: path.to_path_buf(), source };
    let dir = tempfile::tempdir().map_err(|e| unwritable(&std::env::temp_dir(), e))?;
    let script = dir.path().join("peers.py");
    std::fs::write(&script, PEERS_PY).map_err(|e| unwritable(&script, e))?;
    let report = dir.path().join("report.json");
    let sampler = MemorySampler::start();
    let start = Instant::now();
    let status = Command::new(&config.python)
        .arg(&script)
        .arg(peer.arg())
        .args(["--workers", &workers.to_string(), "--preload", &config.preload.join(","), "--json"])
        .arg(&report)
        .args(programs)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status();
    let wall = start.elapsed().as_secs_f64();
    let peak_memory = sampler.stop();
    let failed = |reason: String| SettingsError::BadValue { flag: "--peers", reason };
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(failed(format!("the {} peer failed ({s})", peer.arg())).into()),
        Err(e) => return Err(failed(format!("cannot run {}: {e}", config.python.display())).into()),
    }
    let text =
        std::fs::read_to_string(&report).map_err(|e| failed(format!("no report from the peer: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| failed(format!("the peer's report: {e}")))?;
    let programs = value["programs"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| {
                    (
                        PathBuf::from(p["program"].as_str().unwrap_or_default()),
                        p["duration"].as_f64().unwrap_or(f64::NAN),
                        None,
                        p["returncode"].as_i64() == Some(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    // Peers leave their programs' output in a directory of their own.
    if let Some(out) = value["output_dir"].as_str() {
        let _ = std::fs::remove_dir_all(out);
    }
    Ok(ModeRun {
        mode: Contender::Peer(peer),
        first_result: value["first_result"].as_f64().unwrap_or(wall),
        wall,
        peak_memory,
        programs,
    })
}

/// Runs the corpus once in `config.mode`; returns the run and, for embedded modes, fork-floor samples.
fn run_mode(
    config: &RunConfig,
    programs: &[PathBuf],
    workers: usize,
) -> Result<(ModeRun, Vec<f64>), CliError> {
    let sampler = MemorySampler::start();
    let start = Instant::now();
    let engines = Engines::prepare(config.clone())?;
    if engines.mode() != config.mode {
        return Err(SettingsError::BadValue {
            flag: "--modes",
            reason: engines.fallback_warning().unwrap_or("embedding is not possible").to_string(),
        }
        .into());
    }
    let jobs: Vec<Job> = programs
        .iter()
        .enumerate()
        .map(|(index, p)| {
            let mut spec = ProgramSpec::new(p.clone());
            spec.timeout = config.timeout;
            Job { index, spec }
        })
        .collect();
    let devices = vec![None; workers];
    let cancel = Cancel::default();
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut first_result = None;
    let mut results = Vec::with_capacity(programs.len());
    std::thread::scope(|scope| {
        let engines = &engines;
        let (cancel, devices) = (&cancel, &devices);
        scope.spawn(move || dispatcher::run(engines, jobs, devices, cancel, None, None, tx));
        for event in rx {
            match event {
                Event::ProgramFinished { result, .. } => {
                    first_result.get_or_insert_with(|| start.elapsed().as_secs_f64());
                    results.push((
                        result.program.clone(),
                        result.duration,
                        result.program_time,
                        result.success,
                    ));
                }
                Event::EngineFailed { failure, program, .. } => {
                    eprintln!("runner bench: error: {}: engine failed: {failure}", program.display())
                }
                _ => {}
            }
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let mut floors = Vec::new();
    if let Some(z) = engines.zygote() {
        for _ in 0..FLOOR_SAMPLES {
            floors.push(z.fork_floor()?.as_secs_f64());
        }
    }
    drop(engines);
    let peak_memory = sampler.stop();
    let run = ModeRun {
        mode: Contender::Runner(config.mode),
        first_result: first_result.unwrap_or(wall),
        wall,
        peak_memory,
        programs: results,
    };
    Ok((run, floors))
}

fn time_python_c_pass(python: &Path, n: usize) -> Vec<f64> {
    (0..n)
        .filter_map(|_| {
            let start = Instant::now();
            let ok = Command::new(python)
                .args(["-c", "pass"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            ok.then(|| start.elapsed().as_secs_f64())
        })
        .collect()
}

fn python_version(python: &Path) -> String {
    Command::new(python)
        .args(["-c", "import sys; print(sys.version.split()[0])"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn median(v: &mut [f64]) -> f64 {
    percentile(v, 0.5)
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let idx = ((v.len() - 1) as f64 * q).round() as usize;
    v[idx]
}

#[allow(clippy::too_many_arguments)]
fn summarise(
    cmd: &BenchCmd,
    base: &RunConfig,
    python_version: String,
    programs: &[PathBuf],
    modes: &[Contender],
    runs: &[ModeRun],
    python_floor: &[f64],
    fork_floor: &[f64],
) -> Report {
    // A program's own time: the least the executors measured for it in any embedded run.
    let mut own: HashMap<&Path, f64> = HashMap::new();
    for run in runs {
        for (p, _, t, _) in &run.programs {
            if let Some(t) = t {
                let e = own.entry(p.as_path()).or_insert(*t);
                *e = e.min(*t);
            }
        }
    }
    let walls =
        |mode: Contender| -> Vec<f64> { runs.iter().filter(|r| r.mode == mode).map(|r| r.wall).collect() };
    let subprocess = Contender::Runner(Mode::Subprocess);
    let sub_walls = walls(subprocess);
    let program_medians = |mode: Contender| -> Vec<f64> {
        runs.iter()
            .filter(|r| r.mode == mode)
            .map(|r| median(&mut r.programs.iter().map(|p| p.1).collect::<Vec<_>>()))
            .collect()
    };
    let sub_medians = program_medians(subprocess);
    let spread = |num: &[f64], den: &[f64]| -> Spread {
        let mut ratios: Vec<f64> = num.iter().zip(den).map(|(s, m)| s / m).collect();
        let (min, max) = ratios.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
        Spread { median: median(&mut ratios), min, max }
    };
    let stats = modes
        .iter()
        .map(|&mode| {
            let mine: Vec<&ModeRun> = runs.iter().filter(|r| r.mode == mode).collect();
            let mut firsts: Vec<f64> = mine.iter().map(|r| r.first_result).collect();
            let mut my_walls = walls(mode);
            let mut durations: Vec<f64> = mine.iter().flat_map(|r| r.programs.iter().map(|p| p.1)).collect();
            let mut overheads: Vec<f64> = mine
                .iter()
                .flat_map(|r| {
                    r.programs
                        .iter()
                        .map(|(p, d, _, _)| (d - own.get(p.as_path()).copied().unwrap_or(0.0)).max(0.0))
                })
                .collect();
            let compared =
                !sub_walls.is_empty() && matches!(mode, Contender::Runner(m) if m != Mode::Subprocess);
            let speedup = compared.then(|| spread(&sub_walls, &my_walls));
            let speedup_per_program = compared.then(|| spread(&sub_medians, &program_medians(mode)));
            let against = match mode {
                Contender::Runner(_) => modes
                    .iter()
                    .filter(|c| matches!(c, Contender::Peer(_)))
                    .map(|&peer| Against {
                        peer,
                        per_program: spread(&program_medians(peer), &program_medians(mode)),
                        wall: spread(&walls(peer), &my_walls),
                    })
                    .collect(),
                Contender::Peer(_) => Vec::new(),
            };
            let wall = median(&mut my_walls);
            ModeStats {
                mode,
                first_result: median(&mut firsts),
                overhead_median: median(&mut overheads.clone()),
                overhead_p90: percentile(&mut overheads, 0.9),
                program_median: median(&mut durations.clone()),
                wall,
                programs_per_second: programs.len() as f64 / wall,
                peak_memory: mine.iter().map(|r| r.peak_memory).max().unwrap_or(0),
                speedup,
                speedup_per_program,
                against,
                failures: mine.iter().map(|r| r.programs.iter().filter(|p| !p.3).count()).sum(),
                durations: {
                    durations.sort_by(f64::total_cmp);
                    durations
                },
            }
        })
        .collect();
    Report {
        programs: programs.len(),
        workers: cmd.workers,
        repeat: cmd.repeat,
        python: base.python.display().to_string(),
        python_version,
        preload: base.preload.clone(),
        floors: Floors {
            python_c_pass: median(&mut python_floor.to_vec()),
            bare_fork: (!fork_floor.is_empty()).then(|| median(&mut fork_floor.to_vec())),
        },
        modes: stats,
    }
}

fn human_bytes(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
}

fn ratio(s: Option<Spread>, mode: Contender) -> String {
    match s {
        Some(s) if s.min == s.max => format!("{:.1}x", s.median),
        Some(s) => format!("{:.1}x ({:.1}–{:.1})", s.median, s.min, s.max),
        None if mode == Contender::Runner(Mode::Subprocess) => "1.0x".to_string(),
        None => "-".to_string(),
    }
}

/// The second table, with peers: each of runner's modes against each peer, per program and wall.
fn peer_rows(report: &Report) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let peers: Vec<Contender> =
        report.modes.iter().map(|m| m.mode).filter(|c| matches!(c, Contender::Peer(_))).collect();
    if peers.is_empty() {
        return None;
    }
    let mut headers = vec!["mode".to_string()];
    for p in &peers {
        let name = match p {
            Contender::Peer(Peer::Reused) => "reused pool",
            _ => "forkserver",
        };
        headers.push(format!("vs {name} per program"));
        headers.push(format!("vs {name} wall"));
    }
    let rows = report
        .modes
        .iter()
        .filter(|m| !m.against.is_empty())
        .map(|m| {
            let mut row = vec![m.mode.to_string()];
            for a in &m.against {
                row.push(ratio(Some(a.per_program), m.mode));
                row.push(ratio(Some(a.wall), m.mode));
            }
            row
        })
        .collect();
    Some((headers, rows))
}

fn rows(report: &Report) -> Vec<[String; 9]> {
    report
        .modes
        .iter()
        .map(|m| {
            [
                m.mode.to_string(),
                human_time(m.first_result),
                format!("{} / {}", human_time(m.overhead_median), human_time(m.overhead_p90)),
                human_time(m.program_median),
                human_time(m.wall),
                format!("{:.1}", m.programs_per_second),
                human_bytes(m.peak_memory),
                ratio(m.speedup_per_program, m.mode),
                ratio(m.speedup, m.mode),
            ]
        })
        .collect()
}

const HEADERS: [&str; 9] = [
    "mode",
    "first result",
    "overhead median / p90",
    "program median",
    "wall",
    "programs/s",
    "peak memory",
    "speedup per program",
    "speedup wall",
];

fn floors_line(report: &Report) -> String {
    let mut line = format!("floors: python -c pass {}", human_time(report.floors.python_c_pass));
    if let Some(f) = report.floors.bare_fork {
        let _ = write!(line, ", bare fork+exit+wait of the preloaded zygote {}", human_time(f));
    }
    line
}

fn table_text(report: &Report) -> String {
    let mut out = format!(
        "{} programs, {} worker(s), {} round(s), Python {}{}\n",
        report.programs,
        report.workers,
        report.repeat,
        report.python_version,
        if report.preload.is_empty() {
            String::new()
        } else {
            format!(", preload {}", report.preload.join(","))
        }
    );
    let rows: Vec<Vec<String>> = rows(report).into_iter().map(Vec::from).collect();
    out += &aligned(&HEADERS.map(String::from), &rows);
    out += &floors_line(report);
    out.push('\n');
    if let Some((headers, rows)) = peer_rows(report) {
        out += "against what users would write instead (runner's speedup over each):\n";
        out += &aligned(&headers, &rows);
    }
    let failures: usize = report.modes.iter().map(|m| m.failures).sum();
    if failures > 0 {
        let _ = writeln!(out, "note: {failures} program runs failed; their times are included");
    }
    out
}

fn aligned(headers: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter().map(|r| r[i].chars().count()).chain([headers[i].chars().count()]).max().unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(headers) + "\n";
    for r in rows {
        out += &line(r);
        out.push('\n');
    }
    out
}

fn markdown_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|{}\n", headers.join(" | "), " --- |".repeat(headers.len()));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out
}

fn markdown(report: &Report) -> String {
    let rows: Vec<Vec<String>> = rows(report).into_iter().map(Vec::from).collect();
    let mut out = markdown_table(&HEADERS.map(String::from), &rows);
    let _ = writeln!(out, "\n{}", floors_line(report));
    if let Some((headers, rows)) = peer_rows(report) {
        out += "\nAgainst what users would write instead (runner's speedup over each):\n\n";
        out += &markdown_table(&headers, &rows);
    }
    out
}

/// Samples the proportional set size of this process and all its descendants.
struct MemorySampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<u64>,
}

impl MemorySampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(tree_pss(std::process::id()));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak.max(tree_pss(std::process::id()))
        });
        MemorySampler { stop, handle }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

/// The summed PSS (bytes) of `root` and its descendants, from /proc.
fn tree_pss(root: u32) -> u64 {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
            // The parent pid is the second field after the parenthesised command name.
            if let Some(ppid) = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)) {
                if let Ok(ppid) = ppid.parse() {
                    parent.insert(pid, ppid);
                }
            }
        }
    }
    let in_tree = |mut pid: u32| {
        for _ in 0..64 {
            if pid == root {
                return true;
            }
            match parent.get(&pid) {
                Some(&p) if p != 0 => pid = p,
                _ => return false,
            }
        }
        false
    };
    parent
        .keys()
        .filter(|&&pid| in_tree(pid))
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("Pss:"))
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|kb| kb.parse::<u64>().ok())
                })
                .unwrap_or(0)
                * 1024
        })
        .sum()
}
