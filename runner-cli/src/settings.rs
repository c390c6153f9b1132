//! Turning parsed flags into a validated run: the interpreter found, every program checked, the
//! device policy built. Everything that depends on the environment happens here, once; errors are
//! usage errors that name the offending input.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use runner_core::shard::{Chosen, Shard, ShardError, Source};
use runner_core::{DevicePolicy, ProgramSpec, Purpose, RunConfig};

use crate::cli::RunFlags;

/// A usage or set-up problem found before anything ran.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The program path does not exist.
    #[error("no such program: {0}")]
    NoSuchProgram(PathBuf),
    /// The program path is a directory (or another non-file).
    #[error("not a file: {0}")]
    NotAFile(PathBuf),
    /// The program cannot be opened.
    #[error("cannot read {path}: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    /// An output file cannot be created or written.
    #[error("cannot write {path}: {source}")]
    Unwritable { path: PathBuf, source: std::io::Error },
    /// No Python interpreter was found.
    #[error("python not found: {0}")]
    PythonNotFound(String),
    /// A flag value out of range.
    #[error("invalid value for {flag}: {reason}")]
    BadValue { flag: &'static str, reason: String },
    /// The scheduler's variables name no shard.
    #[error("cannot tell which shard to run: {0}")]
    Shard(ShardError),
}

/// One program with everything needed to run it.
pub struct Plan {
    pub config: RunConfig,
    pub spec: ProgramSpec,
    pub devices: DevicePolicy,
}

/// Validates the flags and the program for `run` / `validate`.
pub fn single(
    program: &Path,
    args: Vec<String>,
    flags: &RunFlags,
    purpose: Purpose,
) -> Result<Plan, SettingsError> {
    let config = run_config(flags)?;
    let mut spec = ProgramSpec::new(check_program(program)?);
    spec.args = args;
    Ok(Plan { config, spec, devices: DevicePolicy::from_env(purpose, flags.seed) })
}

/// One program for a `runner serve` server to run (`run --server`, `validate --server`): the engine
/// is the server's, so only the program, its arguments, its timeout and the device seed go there.
pub struct RemotePlan {
    /// The server's socket.
    pub socket: PathBuf,
    /// The program (its path checked and made absolute here, as without `--server`).
    pub spec: ProgramSpec,
    /// Which of ProgramRunner's entry points the device choice follows.
    pub purpose: Purpose,
    /// `--seed`: the server's device choice for this program is reproducible.
    pub seed: Option<u64>,
}

/// Validates the flags and the program for `run --server` / `validate --server`.
pub fn remote(
    program: &Path,
    args: Vec<String>,
    flags: &RunFlags,
    purpose: Purpose,
    socket: &Path,
) -> Result<RemotePlan, SettingsError> {
    let mut spec = ProgramSpec::new(check_program(program)?);
    spec.args = args;
    spec.timeout = flags.timeout.map(|secs| positive_seconds(secs, "--timeout")).transpose()?;
    Ok(RemotePlan { socket: socket.to_path_buf(), spec, purpose, seed: flags.seed })
}

/// Builds the validated configuration shared by every command that runs programs.
pub fn run_config(flags: &RunFlags) -> Result<RunConfig, SettingsError> {
    let mut config = RunConfig::new(flags.mode, find_python(flags.python.as_deref())?);
    config.timeout = flags.timeout.map(|secs| positive_seconds(secs, "--timeout")).transpose()?;
    if let Some(secs) = flags.startup_timeout {
        config.startup_timeout = positive_seconds(secs, "--startup-timeout")?;
    }
    config.max_output = flags.max_output;
    config.preload = flags.preload.iter().map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
    if let Some(bad) = config.preload.iter().find(|m| !m.split('.').all(is_identifier)) {
        return Err(SettingsError::BadValue {
            flag: "--preload",
            reason: format!("{bad:?} is not a module name"),
        });
    }
    if !flags.no_bytecode_cache {
        config.bytecode_cache = cache_dir().map(|dir| dir.join("bytecode"));
    }
    if flags.max_programs_per_executor == Some(0) {
        return Err(SettingsError::BadValue {
            flag: "--max-programs-per-executor",
            reason: "must be at least 1".into(),
        });
    }
    config.max_programs_per_executor = flags.max_programs_per_executor;
    config.seed = flags.seed;
    Ok(config)
}

/// The shard a batch runs: `--shard K/N`, else the one a Slurm array task or a Kubernetes Indexed
/// Job (`JOB_COMPLETION_INDEX` of `--shard-count`) names in the environment, else none.
pub fn shard(flag: Option<&str>, count: Option<u32>) -> Result<Option<Chosen>, SettingsError> {
    if count == Some(0) {
        return Err(SettingsError::BadValue { flag: "--shard-count", reason: "must be at least 1".into() });
    }
    if let Some(spec) = flag {
        if count.is_some() {
            return Err(SettingsError::BadValue {
                flag: "--shard-count",
                reason: "it is for a Kubernetes Indexed Job (RUNNER_SHARD_COUNT sets it too); --shard K/N gives its own count"
                    .into(),
            });
        }
        let shard: Shard = spec
            .parse()
            .map_err(|e: ShardError| SettingsError::BadValue { flag: "--shard", reason: e.to_string() })?;
        return Ok(Some(Chosen { shard, source: Source::Flag, origin: format!("--shard {shard}") }));
    }
    runner_core::shard::from_environment(|name| std::env::var(name).ok(), count).map_err(SettingsError::Shard)
}

/// Whether `RUNNER_DEBUG` asks for the debug lines (set, not empty, not `0`).
pub fn debug() -> bool {
    std::env::var_os("RUNNER_DEBUG").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The longest any duration flag may be: a billion seconds (about 31 years). Longer is a mistake,
/// and the clock arithmetic of a deadline that far off overflows.
pub const MAX_SECONDS: f64 = 1e9;

/// The most parallel workers (`-j`): each has an executor (and a spare being forked), so more would
/// be thousands of processes.
pub const MAX_WORKERS: usize = 1024;

/// `secs` (from 0 to [`MAX_SECONDS`]) as a duration, or a usage error naming `flag` (NaN, negative,
/// infinite, `1e300`).
pub fn seconds(secs: f64, flag: &'static str) -> Result<Duration, SettingsError> {
    if (0.0..=MAX_SECONDS).contains(&secs) {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(SettingsError::BadValue {
            flag,
            reason: format!("{} is not a number of seconds from 0 to {MAX_SECONDS:e}", number(secs)),
        })
    }
}

/// Like [`seconds`], but zero is refused too (a timeout of nothing).
pub fn positive_seconds(secs: f64, flag: &'static str) -> Result<Duration, SettingsError> {
    if secs > 0.0 && secs <= MAX_SECONDS {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(SettingsError::BadValue {
            flag,
            reason: format!("{} is not a number of seconds above 0 and up to {MAX_SECONDS:e}", number(secs)),
        })
    }
}

/// A worker count from 1 to [`MAX_WORKERS`], or a usage error naming `flag`; `None` stays `None`
/// (the default is the caller's).
pub fn workers(n: Option<usize>, flag: &'static str) -> Result<Option<usize>, SettingsError> {
    match n {
        Some(n) if !(1..=MAX_WORKERS).contains(&n) => {
            Err(SettingsError::BadValue { flag, reason: format!("{n} is not from 1 to {MAX_WORKERS}") })
        }
        n => Ok(n),
    }
}

/// A number as the user would write it: `1e300`, not three hundred digits.
fn number(x: f64) -> String {
    if x.is_finite() && x.abs() >= 1e15 {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// runner's cache directory: `$RUNNER_CACHE_DIR`, else `$XDG_CACHE_HOME/runner`, else
/// `~/.cache/runner` (absolute paths only, as the XDG base directory specification asks).
pub fn cache_dir() -> Option<PathBuf> {
    let absolute = |var: &str| std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("RUNNER_CACHE_DIR")
        .or_else(|| absolute("XDG_CACHE_HOME").map(|p| p.join("runner")))
        .or_else(|| absolute("HOME").map(|p| p.join(".cache").join("runner")))
}

/// Checks that `program` is a readable file and returns its absolute path, normalised as Python's
/// `os.path.abspath` does (lexically: `..` is collapsed, symbolic links are kept).
pub fn check_program(program: &Path) -> Result<PathBuf, SettingsError> {
    let path = absolute(program);
    let meta = std::fs::metadata(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => SettingsError::NoSuchProgram(path.clone()),
        _ => SettingsError::Unreadable { path: path.clone(), source },
    })?;
    if !meta.is_file() {
        return Err(SettingsError::NotAFile(path));
    }
    std::fs::File::open(&path).map_err(|source| SettingsError::Unreadable { path: path.clone(), source })?;
    Ok(path)
}

/// `os.path.abspath`: join with the cwd, then collapse `.` and `..` without touching the filesystem.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The interpreter: `--python`, else `$VIRTUAL_ENV/bin/python`, else `python3` on PATH. The path is made
/// absolute but symbolic links are kept: a venv's `bin/python` is a link, and following it would lose
/// the venv.
pub fn find_python(flag: Option<&Path>) -> Result<PathBuf, SettingsError> {
    // An empty RUNNER_PYTHON counts as unset.
    if let Some(p) = flag.filter(|p| !p.as_os_str().is_empty()) {
        // A bare name is looked up on PATH, as a shell would.
        let found = if p.components().count() == 1 && !p.is_absolute() {
            which::which(p).ok()
        } else {
            Some(absolute(p)).filter(|p| is_executable(p))
        };
        return found.ok_or_else(|| {
            SettingsError::PythonNotFound(format!("{} (from --python or RUNNER_PYTHON)", p.display()))
        });
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        let p = absolute(&Path::new(&venv).join("bin/python"));
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(SettingsError::PythonNotFound(format!(
                "VIRTUAL_ENV is set but {} is not executable",
                p.display()
            )))
        };
    }
    which::which("python3")
        .map_err(|_| SettingsError::PythonNotFound("no python3 on PATH (use --python)".into()))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_checked_against_their_range_and_named_in_the_error() {
        assert_eq!(seconds(0.0, "--x").unwrap(), Duration::ZERO);
        assert_eq!(positive_seconds(2.5, "--x").unwrap(), Duration::from_millis(2500));
        assert_eq!(seconds(MAX_SECONDS, "--x").unwrap(), Duration::from_secs(1_000_000_000));
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1e19, 1e300] {
            let e = seconds(bad, "--x").unwrap_err().to_string();
            assert!(e.starts_with("invalid value for --x: "), "{e}");
            assert!(e.len() < 100, "one short line: {e}");
        }
        assert!(positive_seconds(0.0, "--x").is_err());
        assert!(seconds(1e300, "--x").unwrap_err().to_string().contains("1e300 is not"));
    }

    #[test]
    fn worker_counts_are_from_1_to_the_limit() {
        assert_eq!(workers(None, "-j").unwrap(), None);
        assert_eq!(workers(Some(MAX_WORKERS), "-j").unwrap(), Some(MAX_WORKERS));
        assert!(workers(Some(0), "-j").is_err() && workers(Some(MAX_WORKERS + 1), "-j").is_err());
    }

    #[test]
    fn absolute_collapses_like_abspath() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new("/a/b/../c/./d.py")), PathBuf::from("/a/c/d.py"));
        assert_eq!(absolute(Path::new("x.py")), cwd.join("x.py"));
        assert_eq!(absolute(Path::new("/../x.py")), PathBuf::from("/x.py"));
    }
}
