//! The command line: clap structs that only parse (and the one-line rendering of a usage error).
//! `main` dispatches them; flags become a validated [`runner_core::RunConfig`] in
//! [`crate::settings`]; nothing below that layer sees clap.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use runner_core::shard::Partition;
use runner_core::Mode;

use crate::exit_code;

/// `runner --version`: the crate version and the Python this binary embeds.
const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (embeds Python ", env!("RUNNER_LINKED_PYTHON"), ")");

/// Runs Python programs exactly as `python /abs/prog.py` would, without paying interpreter start-up
/// for every program.
#[derive(Debug, Parser)]
#[command(name = "runner", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one program with torchfuzz ProgramRunner.run_program's transcript; exit 1 if it fails.
    Run(RunCmd),
    /// Run one program and report its result (run_and_validate); `--json` prints the result object.
    Validate(ValidateCmd),
    /// Run many programs on parallel workers, with results as JSONL/JUnit and a summary.
    Batch(BatchCmd),
    /// Measure a corpus in several modes side by side: start-up, overhead, throughput, memory.
    Bench(BenchCmd),
    /// Report on a batch's results (its JSONL, merged shards too): Markdown, a self-contained HTML
    /// page, or the issue body of one failure bucket.
    Report(ReportCmd),
    /// Keep warm workers running and run the programs clients send on a Unix socket (`run
    /// --server`, `validate --server`, the runner_client Python package).
    Serve(ServeCmd),
    /// Merge the results of a campaign's shards (`batch --shard K/N`) into one: JSONL, JUnit, the
    /// summary and a Markdown report.
    Merge(MergeCmd),
}

/// The flags every command that runs programs shares.
#[derive(Debug, Args)]
pub struct RunFlags {
    /// Engine: `warm` reuses pre-warmed executors, `fork` forks a fresh one per program, `subprocess`
    /// runs `python /abs/prog.py` in a fresh process.
    #[arg(long, value_enum, default_value_t = Mode::Warm)]
    pub mode: Mode,
    /// Modules the embedded engine imports once, before any program (comma-separated).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub preload: Vec<String>,
    /// Compile the preloads from source at every start, as python does when it writes no bytecode
    /// (PYTHONDONTWRITEBYTECODE, -B). By default runner then keeps their bytecode in
    /// $RUNNER_CACHE_DIR/bytecode (default ~/.cache/runner).
    #[arg(long)]
    pub no_bytecode_cache: bool,
    /// In warm mode, replace an executor after it has run this many programs.
    #[arg(long, value_name = "N")]
    pub max_programs_per_executor: Option<u32>,
    /// Python interpreter [default: $VIRTUAL_ENV/bin/python, else python3 on PATH].
    #[arg(long, value_name = "PATH", env = "RUNNER_PYTHON")]
    pub python: Option<PathBuf>,
    /// Kill a program (and everything it started) after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// How long the embedded engine's start (the interpreter and the preloads) may take before runner
    /// gives up on it [default: 300].
    #[arg(long, value_name = "SECS")]
    pub startup_timeout: Option<f64>,
    /// Seed for random choices (the device), making runs reproducible.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Keep at most this many bytes of each output stream; the rest is dropped and flagged.
    #[arg(long, value_name = "BYTES", default_value_t = runner_core::config::DEFAULT_MAX_OUTPUT)]
    pub max_output: u64,
}

/// `runner run`.
#[derive(Debug, Args)]
pub struct RunCmd {
    /// The Python program to run.
    pub program: PathBuf,
    /// Arguments passed to the program (after `--`).
    #[arg(last = true)]
    pub args: Vec<String>,
    /// Have the `runner serve` listening on SOCKET run the program (its engine flags apply).
    #[arg(long, value_name = "SOCKET", conflicts_with_all = SERVER_ENGINE_FLAGS)]
    pub server: Option<PathBuf>,
    #[command(flatten)]
    pub flags: RunFlags,
}

/// The engine flags that are the server's business: given with `--server`, a usage error. (`--python`
/// is not among them: it may come from RUNNER_PYTHON, and is then ignored.)
const SERVER_ENGINE_FLAGS: [&str; 6] =
    ["mode", "preload", "no_bytecode_cache", "max_programs_per_executor", "startup_timeout", "max_output"];

/// `runner validate`.
#[derive(Debug, Args)]
pub struct ValidateCmd {
    /// The Python program to run.
    pub program: PathBuf,
    /// Arguments passed to the program (after `--`).
    #[arg(last = true)]
    pub args: Vec<String>,
    /// Print one JSON object with the result and exit 0 whatever the program did.
    #[arg(long)]
    pub json: bool,
    /// Have the `runner serve` listening on SOCKET run the program (its engine flags apply).
    #[arg(long, value_name = "SOCKET", conflicts_with_all = SERVER_ENGINE_FLAGS)]
    pub server: Option<PathBuf>,
    #[command(flatten)]
    pub flags: RunFlags,
}

/// `runner batch`.
#[derive(Debug, Args)]
pub struct BatchCmd {
    /// Program files and directories (their `*.py`, recursively).
    #[arg(value_name = "PROGRAMS")]
    pub inputs: Vec<PathBuf>,
    /// Read program paths from FILE, one a line (`-` for stdin); repeatable.
    #[arg(long, value_name = "FILE")]
    pub from_list: Vec<PathBuf>,
    /// Parallel workers [default: the number of CPUs].
    #[arg(long, short = 'j', value_name = "N")]
    pub workers: Option<usize>,
    /// Devices to spread workers over (comma-separated CUDA_VISIBLE_DEVICES values) instead of the
    /// device policy's.
    #[arg(long, value_name = "LIST")]
    pub devices: Option<String>,
    /// Leave GPU 0 to the parent when several GPUs are counted (as run_and_validate does).
    #[arg(long)]
    pub skip_primary_device: bool,
    /// Write one JSON object per program to FILE as each finishes. `DIR/` writes
    /// `DIR/results-<K>-of-<N>.jsonl` for shard K of N (`DIR/results.jsonl` without a shard); `{K}`
    /// and `{N}` in FILE are replaced by the shard's numbers.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write a JUnit XML report to FILE at the end. `DIR/` and `{K}`, `{N}` as for --output
    /// (`junit-<K>-of-<N>.xml`).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Skip programs already recorded in the --output file, and append to it.
    #[arg(long)]
    pub resume: bool,
    /// A failure whose output matches REGEX is counted as ignored (a known issue); repeatable.
    #[arg(long, value_name = "REGEX")]
    pub ignore_pattern: Vec<String>,
    /// Known issues kept as data: a TOML file of `[[issue]]` entries (pattern, issue, note); a failure
    /// that matches one is ignored, and the summary gives each entry's hits.
    #[arg(long, value_name = "FILE")]
    pub known_issues: Option<PathBuf>,
    /// Run a failure again, in a fresh executor, up to N times: one that passes on a retry is flaky.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,
    /// Retry only failures whose output matches REGEX; repeatable (default: every failure).
    #[arg(long, value_name = "REGEX")]
    pub retry_on: Vec<String>,
    /// Stop scheduling at the first failure and print how to reproduce it.
    #[arg(long)]
    pub fail_fast: bool,
    /// After the first Ctrl-C (or SIGTERM), give running programs this many seconds before killing
    /// them.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub interrupt_grace: f64,
    /// Write the campaign's report as one self-contained HTML page to FILE at the end.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the campaign's report as Markdown to FILE at the end (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Run only shard K of N (K from 1). Without it, a Slurm array task or a Kubernetes Indexed Job
    /// (with --shard-count) names the shard; `--shard 1/1` runs every program there.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// How programs are dealt out to shards: `hash` of each path relative to the inputs' common
    /// directory, no shard more than 3% above the mean (a program keeps its shard when others are
    /// added unless its shard was full), or `slice` (the sorted list, every N-th: exactly even, but
    /// shards move when the list changes).
    #[arg(long, value_enum, value_name = "PARTITION", default_value_t = Partition::Hash)]
    pub shard_by: Partition,
    /// The number of shards of a Kubernetes Indexed Job (its completions), whose
    /// JOB_COMPLETION_INDEX names the shard: Kubernetes gives no count.
    #[arg(long, value_name = "N", env = "RUNNER_SHARD_COUNT")]
    pub shard_count: Option<u32>,
    /// Print the programs this batch would run (its shard's, less those --resume finds recorded),
    /// one a line, and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress display.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub flags: RunFlags,
}

/// `runner report`.
#[derive(Debug, Args)]
pub struct ReportCmd {
    /// Results files (`runner batch -o`, `runner merge -o`), or directories of them (their
    /// `*.jsonl`). A program recorded more than once counts by its latest record.
    #[arg(value_name = "RESULTS", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write the report as one self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the report as Markdown to FILE (`-` for stdout; the default without --html).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Print the issue body of failure bucket N (its number in the report, from 1, or its id):
    /// the reproducer's source, the command, the output.
    #[arg(long, value_name = "N|ID", conflicts_with_all = ["html", "markdown"])]
    pub bucket: Option<String>,
    /// With --bucket: print only the bucket's title, ready to be the issue's.
    #[arg(long, requires = "bucket")]
    pub title: bool,
    /// Judge failures against this known-issues file (as `runner batch --known-issues`): those
    /// that match are ignored, and every entry is listed with its hits.
    #[arg(long, value_name = "FILE")]
    pub known_issues: Option<PathBuf>,
}

/// `runner merge`.
#[derive(Debug, Args)]
pub struct MergeCmd {
    /// The shards' results files (`runner batch -o`), or directories holding them (their
    /// `*-<K>-of-<N>.jsonl` files).
    #[arg(value_name = "FILES|DIR", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write the merged records (the latest of each program) to FILE as JSONL.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write a JUnit XML report of the merged records to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown report to FILE (`-` for stdout); it is also appended to
    /// $GITHUB_STEP_SUMMARY when that is set.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write the merged campaign's report as one self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// `runner bench`.
#[derive(Debug, Args)]
pub struct BenchCmd {
    /// Program files and directories (their `*.py`, recursively).
    #[arg(value_name = "CORPUS", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Modes to compare, comma-separated.
    #[arg(long, value_name = "LIST", default_value = "subprocess,fork,warm")]
    pub modes: String,
    /// Also time what a user would write instead, comma-separated: `forkserver` (a preloaded
    /// multiprocessing forkserver, a fresh child per program), `reused` (a pool of reused processes
    /// that resets nothing: not faithful, the upper bound on speed).
    #[arg(long, value_name = "LIST", default_value = "")]
    pub peers: String,
    /// Parallel workers in every mode.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1)]
    pub workers: usize,
    /// Rounds; each runs every mode once, in a rotated order.
    #[arg(long, value_name = "R", default_value_t = 3)]
    pub repeat: usize,
    /// Write the report as JSON to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the table as Markdown to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write an SVG chart of per-program times per mode to FILE.
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
    /// No progress lines.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub flags: RunFlags,
}

/// `runner serve`.
#[derive(Debug, Args)]
pub struct ServeCmd {
    /// Listen on this Unix socket (created with mode 0600; a stale one is replaced, a live one
    /// refused; removed at exit).
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// Parallel workers [default: the number of CPUs].
    #[arg(long, short = 'j', value_name = "N")]
    pub workers: Option<usize>,
    /// Pin the workers to these devices round-robin (comma-separated CUDA_VISIBLE_DEVICES values)
    /// instead of choosing a device for each request by the device policy.
    #[arg(long, value_name = "LIST")]
    pub devices: Option<String>,
    /// Leave GPU 0 to the parent for every request when several GPUs are counted (as
    /// run_and_validate does), not only for validate requests.
    #[arg(long)]
    pub skip_primary_device: bool,
    /// Write one JSON object per program served to FILE as each finishes.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// After the first Ctrl-C or SIGTERM, give running programs this many seconds before killing
    /// them.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub interrupt_grace: f64,
    /// Say one line per program served on stderr (as RUNNER_DEBUG does).
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Say nothing on stderr when interrupted (for a server its starter stops).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub flags: RunFlags,
}

/// Parses the process's arguments. `Err` carries the exit code after clap has printed help, the
/// version, or a one-line usage error.
pub fn parse() -> Result<Cli, i32> {
    parse_from(std::env::args_os())
}

fn parse_from(args: impl IntoIterator<Item = OsString>) -> Result<Cli, i32> {
    Cli::try_parse_from(args).map_err(|err| {
        use clap::error::ErrorKind;
        match err.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = err.print();
                exit_code::PASSED
            }
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = err.print();
                exit_code::USAGE
            }
            _ => {
                // One line saying what is wrong. clap puts the names of missing arguments on indented
                // lines under the first; its tips and usage block follow after a blank line.
                let rendered = err.render().to_string();
                let mut lines = rendered.lines();
                let first = lines.next().unwrap_or("invalid arguments");
                let first = first.strip_prefix("error: ").unwrap_or(first);
                let detail: Vec<&str> = lines
                    .take_while(|l| l.starts_with("  "))
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                let message = if detail.is_empty() {
                    first.to_string()
                } else {
                    format!("{first} {}", detail.join(", "))
                };
                eprintln!("runner: error: {message} (see runner --help)");
                exit_code::USAGE
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        std::iter::once("runner").chain(v.iter().copied()).map(OsString::from).collect()
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        for bad in [
            &["run"][..],
            &["run", "p.py", "--timeout", "x"],
            &["frobnicate"],
            &["run", "p.py", "--mode", "nope"],
        ] {
            assert_eq!(parse_from(args(bad)).err(), Some(exit_code::USAGE), "{bad:?}");
        }
    }

    #[test]
    fn engine_flags_are_the_server_s_with_server() {
        for bad in [
            &["run", "p.py", "--server", "s", "--mode", "fork"][..],
            &["validate", "p.py", "--server", "s", "--preload", "torch"],
            &["run", "--server", "s", "--max-output", "10", "p.py"],
        ] {
            assert_eq!(parse_from(args(bad)).err(), Some(exit_code::USAGE), "{bad:?}");
        }
        let cli =
            parse_from(args(&["run", "p.py", "--server", "s", "--timeout", "3", "--seed", "1"])).unwrap();
        let Command::Run(r) = cli.command else { panic!("not run") };
        assert_eq!(r.server.as_deref(), Some(std::path::Path::new("s")));
    }

    #[test]
    fn program_arguments_follow_the_double_dash() {
        let cli = parse_from(args(&["validate", "p.py", "--json", "--", "-x", "--json"])).unwrap();
        let Command::Validate(v) = cli.command else { panic!("not validate") };
        assert!(v.json);
        assert_eq!(v.args, vec!["-x", "--json"]);
    }
}

/// The README's CLI reference names every flag of every command: a flag added without its line there
/// fails here.
#[cfg(test)]
mod readme {
    use clap::CommandFactory;

    /// The README's section on `runner NAME` (up to the next heading of that level or above), and the
    /// flags shared by every command.
    fn section<'a>(readme: &'a str, name: &str) -> (&'a str, &'a str) {
        let part = |heading: &str| {
            let start = readme.find(heading).unwrap_or_else(|| panic!("README has no {heading:?}"));
            let rest = &readme[start + heading.len()..];
            &rest[..rest.find("\n### ").or_else(|| rest.find("\n## ")).unwrap_or(rest.len())]
        };
        (part(&format!("### `runner {name}`")), part("### Flags shared by every command"))
    }

    /// Whether `text` names `--long` (`--long N`, `-j, --long`, `[--long]`; not `--long-er`).
    fn names(text: &str, long: &str) -> bool {
        let flag = format!("--{long}");
        text.match_indices(&flag).any(|(at, _)| {
            let next = text[at + flag.len()..].chars().next();
            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    }

    #[test]
    fn every_flag_of_every_command_is_in_the_readme() {
        let readme = include_str!("../../README.md");
        let mut missing = Vec::new();
        for sub in super::Cli::command().get_subcommands().filter(|s| !s.is_hide_set()) {
            let (own, shared) = section(readme, sub.get_name());
            for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                let Some(long) = arg.get_long() else { continue };
                if matches!(long, "help" | "version") {
                    continue;
                }
                if !names(own, long) && !names(shared, long) {
                    missing.push(format!("runner {} --{long}", sub.get_name()));
                }
            }
        }
        assert!(missing.is_empty(), "flags the README's CLI reference does not name: {missing:?}");
    }
}
