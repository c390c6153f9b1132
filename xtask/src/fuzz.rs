//! `cargo xtask fuzz`: builds runner, sets up the test Python environment and runs a differential
//! fuzz campaign (the library is `runner_tests::fuzz`): generated programs run under
//! `python /abs/prog.py` and under each embedded mode; differences are shrunk into `fuzz/findings/`.
//! This file only turns flags into a campaign and prints its progress and summary.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use runner_tests::fuzz::{self, Config, Event, Mode, Stop, Template};

/// Flags of `cargo xtask fuzz`.
#[derive(Args)]
pub struct FuzzArgs {
    /// Campaign seed: programs and batch settings derive from it (default: random, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Stop after N programs (default 200 when --duration is not given).
    #[arg(long, conflicts_with = "duration")]
    count: Option<u64>,
    /// Stop after this long (90s, 5m, 1h); the batches running then finish.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Modes compared with python, comma-separated (warm, fork, subprocess).
    #[arg(long, value_delimiter = ',', default_value = "warm,fork")]
    modes: Vec<String>,
    /// Batches run in parallel (each runs python and one `runner batch --workers 1` per mode).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Programs per batch: per `runner batch` invocation, so per chain of warm executors.
    #[arg(long, default_value_t = 20)]
    batch_size: usize,
    /// `semantics`: programs that exercise python's run semantics and process state; `torch`:
    /// torchfuzz-shaped programs (eager, then torch.compile, CPU), run with `--preload torch`.
    #[arg(long, default_value = "semantics", value_parser = ["semantics", "torch"])]
    template: String,
    /// Build and use the release runner (default: debug).
    #[arg(long)]
    release: bool,
    /// Fuzz this runner binary instead of building one (another build or checkout).
    #[arg(long, conflicts_with = "release")]
    runner: Option<std::path::PathBuf>,
    /// Per-program time limit in seconds (default: 30, torch 600).
    #[arg(long)]
    timeout: Option<u64>,
    /// torch template: programs per batch that python also runs (twice) for comparison.
    #[arg(long, default_value_t = 1)]
    python_sample: usize,
    /// Keep the batch directories under fuzz/work/.
    #[arg(long)]
    keep_work: bool,
}

/// Parses `90`, `90s`, `5m`, `1h`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = number.parse().map_err(|_| format!("{s:?} is not a duration like 90s, 5m or 1h"))?;
    let secs = match unit {
        "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (s, m or h)")),
    };
    Ok(Duration::from_secs(secs))
}

/// A seed nobody chose: time and pid.
fn random_seed() -> u64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    ((nanos as u64) ^ (u64::from(std::process::id()) << 20)) % 1_000_000_000
}

pub fn run(root: &Path, args: FuzzArgs) -> Result<()> {
    let template = Template::from_name(&args.template).expect("clap checked the template");
    let modes = args
        .modes
        .iter()
        .map(|m| {
            Mode::from_name(m)
                .with_context(|| format!("--modes: unknown mode {m:?} (warm, fork, subprocess)"))
        })
        .collect::<Result<Vec<_>>>()?;
    if modes.is_empty() {
        bail!("--modes: no mode given");
    }
    let python = crate::testenv::ensure(root)?;
    let profile = if args.release { "release" } else { "debug" };
    let runner = match &args.runner {
        Some(path) => std::fs::canonicalize(path).with_context(|| format!("--runner {}", path.display()))?,
        None => {
            let mut build = Command::new("cargo");
            build.args(["build", "-p", "runner-cli"]).current_dir(root);
            if args.release {
                build.arg("--release");
            }
            crate::run(&mut build)?;
            root.join("target").join(profile).join("runner")
        }
    };

    let seed = args.seed.unwrap_or_else(random_seed);
    let stop = match (args.count, args.duration) {
        (_, Some(d)) => Stop::Duration(d),
        (Some(n), None) => Stop::Count(n),
        (None, None) => Stop::Count(200),
    };
    let workdir = root.join("fuzz").join("work").join(format!("seed-{seed}"));
    let mut config = Config::new(python.clone(), runner, workdir.clone(), fuzz::default_findings_dir(root));
    config.seed = seed;
    config.stop = stop;
    config.modes = modes;
    config.workers = args.workers.max(1);
    config.batch_size = args.batch_size.max(1);
    config.template = template;
    config.timeout = Duration::from_secs(args.timeout.unwrap_or(match template {
        Template::Semantics => 30,
        Template::Torch => 600,
    }));
    config.python_sample = args.python_sample;
    config.keep_work = args.keep_work;

    let modes: Vec<&str> = config.modes.iter().map(|m| m.as_str()).collect();
    eprintln!(
        "xtask: fuzz seed {seed}, template {}, modes {}, {} worker(s), batches of {}, runner {}, python {}",
        template.name(),
        modes.join(","),
        config.workers,
        config.batch_size,
        config.runner.display(),
        python.display()
    );
    eprintln!(
        "xtask: replay with: cargo xtask fuzz --seed {seed} --template {} --batch-size {}",
        template.name(),
        config.batch_size
    );
    let started = Instant::now();
    let summary = fuzz::run(&config, &|event| match event {
        Event::Batch(report, totals) => {
            let elapsed = started.elapsed().as_secs_f64();
            let rate = if elapsed > 0.0 { totals.generated as f64 / elapsed * 60.0 } else { 0.0 };
            let skipped = report.skipped_nondeterministic + report.skipped_timeout;
            eprintln!(
                "[{:>6.0}s] batch {} ({}): {} programs, {} compared, {} skipped, {} differences | total {} programs, {:.0}/min, {} findings",
                elapsed,
                report.batch,
                report.settings.describe(),
                report.programs,
                report.compared,
                skipped,
                report.differences,
                totals.generated,
                rate,
                totals.findings.len(),
            );
        }
        Event::Finding(f) => {
            let dir = f.dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default();
            eprintln!("FINDING {}: {}\n  written to {dir}", f.name(), f.title());
        }
        Event::Incident(what) => eprintln!("RUNNER FAILED: {what}"),
        Event::Duplicate { index, mode, of } => {
            eprintln!("  program {index} ({}) differs like finding {of}: counted, not shrunk", mode.as_str());
        }
    })
    .with_context(|| format!("fuzz campaign (seed {seed})"))?;
    if !config.keep_work && summary.incidents.is_empty() {
        let _ = std::fs::remove_dir_all(&workdir);
    }
    println!("{}", summary.render());
    if !summary.findings.is_empty() || !summary.incidents.is_empty() {
        bail!(
            "{} findings (in {}) and {} runner failures (batches kept in {}), seed {seed}",
            summary.findings.len(),
            config.findings_dir.display(),
            summary.incidents.len(),
            workdir.display(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
    }
}
