//! Project automation, run as `cargo xtask <task>`:
//!
//! - `test`: create or reuse the cached test Python environments (numpy, torch; the newest torch),
//!   install Slurm when it is missing and this runs as root (the Slurm test starts a one-node
//!   cluster), then run every test, the torch tests once more against the newest torch, and the
//!   static checks (`cargo fmt --check`, `cargo clippy -D warnings`, `cargo doc` without warnings).
//! - `demo`: the main job: build runner and run the bundled example programs.
//! - `bench`: run the standard benchmark corpora and rewrite BENCHMARKS.md (`--only memory` and
//!   `--only shards` are steps of their own, each with its section).
//! - `testenv`: only create or reuse the test environment and print its Python.

mod bench;
mod fuzz;
mod shards;
mod testenv;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Xtask {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Set up the test environment (cached) and run every test of the workspace.
    Test {
        /// Extra arguments for the test runner (cargo nextest run, or cargo test without nextest).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// The main job: build runner (release) and run the bundled examples as a batch, warm mode.
    Demo,
    /// Create or reuse the test Python environment and print the path of its interpreter.
    Testenv,
    /// Run the standard benchmark corpora and rewrite BENCHMARKS.md.
    Bench {
        /// Only these corpora (empty, pure_python, numpy, torch_eager, torch_compile), or the memory
        /// step: `memory` (a million empty programs; writes its section of BENCHMARKS.md) or
        /// `memory-quick` (ten thousand; prints its table), the serve step: `serve` (one program at
        /// a time through `runner serve` beside `runner batch`; writes its section), or the sharding
        /// step: `shards` (the shard choice over a million paths, a merge of ten million records, the
        /// hash's evenness; writes its section) or `shards-quick` (smaller; prints it).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Differential fuzzing: generated programs under python and under each embedded mode;
    /// differences are shrunk into fuzz/findings/.
    Fuzz(fuzz::FuzzArgs),
}

fn main() -> Result<()> {
    match Xtask::parse().task {
        Task::Test { args } => test(&args),
        Task::Demo => demo(),
        Task::Bench { only } => bench::run(&root(), &only),
        Task::Testenv => {
            println!("{}", testenv::ensure(&root())?.display());
            Ok(())
        }
        Task::Fuzz(args) => fuzz::run(&root(), args),
    }
}

/// The workspace root (the parent of this crate).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn test(extra: &[String]) -> Result<()> {
    let root = root();
    let python = testenv::ensure(&root)?;
    ensure_debian_packages();
    // The end-to-end tests run the `runner` binary itself, which building the tests does not build.
    run(Command::new("cargo").args(["build", "-p", "runner-cli"]).current_dir(&root))?;
    let nextest = has_nextest();
    // The tests find the environment's interpreter here; a test that needs numpy or torch fails
    // (never skips) when this interpreter lacks them.
    let all = run(test_command(nextest, &["--workspace"])
        .args(extra)
        .current_dir(&root)
        .env("RUNNER_TEST_PYTHON", &python));
    // The torch tests once more, against the newest torch: warm mode's torch-aware resets must hold
    // on every torch a user has. (Without the extra arguments: a filter meant for the whole suite
    // may select none of these, which nextest counts as a failure.)
    let newest = testenv::ensure_from(&root, "tests/requirements-newest.txt")?;
    let torch_newest = run(test_command(nextest, &["-p", "runner-tests", "--test", "torch_state"])
        .current_dir(&root)
        .env("RUNNER_TEST_PYTHON", &newest));
    // The habits that keep the code as it is: formatted, lint-free (the workspace lints included),
    // documented without broken links. Run after the tests so that a lint never hides a failing test.
    let checks = static_checks(&root);
    all.and(torch_newest).and(checks)
}

/// What a test needs from Debian: the packages, the programs of theirs it runs, and the test.
struct DebianNeed {
    /// What it is, for messages.
    what: &'static str,
    /// The packages that bring it.
    packages: &'static [&'static str],
    /// The programs of those packages the test runs.
    programs: &'static [&'static str],
    /// The test that needs it.
    test: &'static str,
}

/// Slurm's controller, node daemon and clients, and munge (its authentication), for
/// `tests/tests/slurm.rs`; headless Chromium, which opens the HTML reports in `tests/tests/report.rs`.
const DEBIAN_NEEDS: &[DebianNeed] = &[
    DebianNeed {
        what: "Slurm",
        packages: &["slurmctld", "slurmd", "slurm-client", "munge"],
        programs: &["munged", "slurmctld", "slurmd", "sbatch", "scancel", "scontrol"],
        test: "the Slurm test",
    },
    DebianNeed {
        what: "Chromium",
        packages: &["chromium", "fonts-dejavu-core"],
        programs: &["chromium"],
        test: "the browser tests of the HTML report",
    },
];

/// Installs with apt-get what a test needs from Debian when a program of it is missing and this
/// runs as root (as on a fresh CI machine); says why not otherwise. Never fatal: without it, the
/// test that needs it fails in CI (`CI` set) and skips elsewhere, and every other test still runs.
fn ensure_debian_packages() {
    let found = |p: &str| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
            .any(|d| d.join(p).is_file())
    };
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut lists_updated = false;
    for need in DEBIAN_NEEDS {
        let Some(missing) = need.programs.iter().find(|p| !found(p)) else { continue };
        if !root || !found("apt-get") {
            eprintln!(
                "xtask: {missing} is missing and cannot be installed here (needs root and apt-get): {} fails in CI and skips otherwise; install {}",
                need.test,
                need.packages.join(" ")
            );
            continue;
        }
        let install = || {
            let mut cmd = Command::new("apt-get");
            cmd.args(["install", "-y", "--no-install-recommends"])
                .args(need.packages)
                .env("DEBIAN_FRONTEND", "noninteractive");
            cmd
        };
        // A fresh machine may have no package lists yet.
        let installed = run(&mut install()).or_else(|_| {
            if lists_updated {
                return Err(anyhow::anyhow!("apt-get install failed"));
            }
            lists_updated = true;
            run(Command::new("apt-get").arg("update")).and_then(|()| run(&mut install()))
        });
        if let Err(e) = installed {
            eprintln!(
                "xtask: installing {} failed ({e:#}): {} fails in CI and skips otherwise",
                need.what, need.test
            );
        }
    }
}

/// `cargo fmt --check`, `cargo clippy --all-targets -D warnings` and `cargo doc` without warnings, each
/// run and reported before the first failure is returned.
fn static_checks(root: &Path) -> Result<()> {
    let fmt = run(Command::new("cargo").args(["fmt", "--all", "--", "--check"]).current_dir(root));
    let clippy = run(Command::new("cargo")
        .args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])
        .current_dir(root));
    let doc = run(Command::new("cargo")
        .args(["doc", "--workspace", "--no-deps", "--document-private-items"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .current_dir(root));
    fmt.and(clippy).and(doc)
}

/// `cargo nextest run` (or `cargo test` without nextest) over `selection`, every failure reported.
fn test_command(nextest: bool, selection: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.args(if nextest { &["nextest", "run"][..] } else { &["test"][..] });
    cmd.args(selection).arg("--no-fail-fast");
    cmd
}

fn demo() -> Result<()> {
    let root = root();
    let python = testenv::ensure(&root)?;
    run(Command::new("cargo").args(["build", "--release", "-p", "runner-cli"]).current_dir(&root))?;
    // The main job: the bundled examples as one batch on the embedded engine (warm mode), with the
    // heavy modules imported once in the zygote, known issues kept as data, one flaky program
    // retried, and the campaign's report as JSONL and HTML under target/demo/.
    let args = demo_args(&root)?;
    std::fs::create_dir_all(root.join("target/demo")).context("creating target/demo")?;
    run(Command::new(root.join("target/release/runner"))
        .args(&args)
        .arg("--python")
        .arg(&python)
        .current_dir(&root))?;
    eprintln!("xtask: the report: {}", root.join("target/demo/report.html").display());
    Ok(())
}

/// The main job's arguments, from `examples/demo.args` (one a line, `#` comments), which the test of
/// the main job reads too.
fn demo_args(root: &Path) -> Result<Vec<String>> {
    let path = root.join("examples/demo.args");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}
