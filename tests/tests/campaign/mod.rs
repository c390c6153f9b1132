//! What the tests of sharded campaigns share (`tests/tests/shards.rs`, `tests/tests/slurm.rs`): a
//! small corpus written into a temporary directory (passing, failing, crashing, hanging and ignored
//! programs, in subdirectories), a *gate* program that tells the test it runs and then waits to be
//! killed, the records of results files, and the comparison of a merged campaign with a
//! single-machine `runner batch` of the same corpus, program by program and bucket by bucket.
//!
//! Nothing sleeps to wait: the gate writes to a FIFO the test reads (with a bound, so a hang fails
//! the test instead of the suite).

#![allow(dead_code)] // Each test file uses its part.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use runner_tests::HANG_LIMIT;
use serde_json::{json, Value};

/// `--timeout` of every batch of the corpus: ends `hang.py`.
pub const TIMEOUT: &str = "2";
/// `--ignore-pattern` of every batch of the corpus: `known_issue.py`'s failure is ignored.
pub const IGNORE: &str = "KnownIssue";

/// The corpus: path under its root, source.
const PROGRAMS: &[(&str, &str)] = &[
    ("pass/p0.py", "print('p0')\n"),
    ("pass/p1.py", "print('p1')\n"),
    ("pass/p2.py", "import sys\nprint('p2', file=sys.stderr)\n"),
    ("pass/p3.py", "print('p3', end='')\n"),
    ("pass/deeper/p4.py", "print('p4')\n"),
    ("pass/deeper/p5.py", "print('p5')\n"),
    ("fail/value_error_1.py", "print('one')\nraise ValueError('shared bug')\n"),
    ("fail/value_error_2.py", "print('two')\nraise ValueError('shared bug')\n"),
    ("fail/exit_code.py", "import sys\nprint('exiting with 3')\nsys.exit(3)\n"),
    ("crash/abort.py", "import os\nprint('about to abort', flush=True)\nos.abort()\n"),
    (
        "crash/segfault.py",
        "import ctypes\nprint('about to read address 0', flush=True)\nctypes.string_at(0)\n",
    ),
    ("hang.py", "import time\nprint('hanging', flush=True)\ntime.sleep(3600)\n"),
    ("known_issue.py", "import sys\nprint('KnownIssue: tracked upstream', file=sys.stderr)\nsys.exit(1)\n"),
];

/// The gate's name in the corpus: it sorts after `fail/` and before `hang.py` and `pass/`, so one
/// worker runs it in the middle of its shard.
pub const GATE: &str = "gate.py";

/// Writes the corpus under `dir/corpus` (with the gate program when `gate` names its FIFO) and
/// returns its root.
pub fn write_corpus(dir: &Path, gate: Option<&Path>) -> PathBuf {
    let root = dir.join("corpus");
    for (rel, source) in PROGRAMS {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, source).unwrap();
    }
    if let Some(fifo) = gate {
        std::fs::write(root.join(GATE), gate_source(fifo)).unwrap();
    }
    root
}

/// The gate: when someone holds its FIFO open, it writes its Slurm array task (or `-`) there and
/// sleeps until it is killed; otherwise (a single-machine run, a resumed one) it passes at once.
fn gate_source(fifo: &Path) -> String {
    format!(
        "import os, time\n\
         try:\n    fd = os.open({fifo:?}, os.O_WRONLY | os.O_NONBLOCK)\n\
         except OSError:\n    fd = None\n\
         if fd is not None:\n    \
             os.write(fd, (os.environ.get('SLURM_ARRAY_TASK_ID', '-') + '\\n').encode())\n    \
             os.close(fd)\n    \
             time.sleep(3600)\n\
         print('gate passed')\n",
        fifo = fifo.to_str().expect("a UTF-8 temporary path")
    )
}

/// The test's end of the gate's FIFO: while it is open, the gate program blocks.
pub struct Gate {
    fifo: std::fs::File,
    /// The FIFO's path.
    pub path: PathBuf,
}

impl Gate {
    /// Makes the FIFO `dir/gate` and holds it open (for reading and writing: the open does not wait
    /// for a writer, and the gate's non-blocking open for writing succeeds).
    pub fn new(dir: &Path) -> Gate {
        let path = dir.join("gate");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
        let fifo = std::fs::OpenOptions::new().read(true).write(true).open(&path).expect("open the FIFO");
        Gate { fifo, path }
    }

    /// Waits until the gate program runs; returns what it wrote (its Slurm array task, or `-`).
    pub fn wait(&mut self) -> String {
        let mut poll = libc::pollfd { fd: self.fifo.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let limit = i32::try_from(HANG_LIMIT.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, limit) };
        assert_eq!(ready, 1, "the gate program did not run within {HANG_LIMIT:?}");
        let mut buf = [0u8; 64];
        let n = self.fifo.read(&mut buf).expect("read the FIFO");
        String::from_utf8_lossy(&buf[..n]).trim().to_string()
    }
}

/// `runner batch` of the corpus with its settings (`--timeout`, `--ignore-pattern`, quiet) and one
/// worker (so the gate runs with programs before and after it in its shard).
pub fn batch_args(root: &Path) -> Vec<OsString> {
    ["batch", "-q", "-j", "1", "--timeout", TIMEOUT, "--ignore-pattern", IGNORE]
        .iter()
        .map(OsString::from)
        .chain([root.as_os_str().to_os_string()])
        .collect()
}

/// The records of a JSONL file; every line whole and an object.
pub fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(text.is_empty() || text.ends_with('\n'), "{}: a cut last line", path.display());
    text.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {l}", path.display()))
        })
        .collect()
}

/// Records by program; a program recorded twice fails the test.
pub fn by_program(records: &[Value], ctx: &str) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for r in records {
        let program = r["program"].as_str().unwrap_or_else(|| panic!("{ctx}: no program in {r}")).to_string();
        assert!(map.insert(program.clone(), r.clone()).is_none(), "{ctx}: {program} recorded twice");
    }
    map
}

/// What a program did, without where, when and how fast: what must be the same wherever it ran.
pub fn essence(r: &Value) -> Value {
    json!({
        "status": r["status"], "success": r["success"], "returncode": r["returncode"],
        "stdout": r["stdout"], "stderr": r["stderr"], "signature": r["signature"],
        "timed_out": r["timed_out"], "ignored_by": r["ignored_by"],
    })
}

/// Asserts that `merged` records the same programs as `single`, each with the same result.
pub fn assert_same_results(single: &[Value], merged: &[Value], ctx: &str) {
    let single = by_program(single, &format!("{ctx}: single machine"));
    let merged = by_program(merged, &format!("{ctx}: merged"));
    assert_eq!(
        merged.keys().collect::<Vec<_>>(),
        single.keys().collect::<Vec<_>>(),
        "{ctx}: the merged campaign records other programs than one machine"
    );
    for (program, want) in &single {
        assert_eq!(essence(&merged[program]), essence(want), "{ctx}: {program}");
    }
}

/// The summary's counts line and its failure buckets (signature -> count, status, example, reproduce).
pub struct SummaryView {
    pub counts: String,
    pub buckets: BTreeMap<String, (usize, String, String, String)>,
}

/// Reads what [`SummaryView`] holds from a summary.
pub fn summary(text: &str) -> SummaryView {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let counts = lines.iter().find(|l| l.starts_with("passed ")).expect("a counts line").to_string();
    let mut buckets = BTreeMap::new();
    let mut i = lines.iter().position(|l| l.starts_with("Failure buckets (")).map_or(lines.len(), |i| i + 1);
    while i + 2 < lines.len() {
        let Some((count, rest)) = lines[i].split_once("x ") else { break };
        let Ok(count) = count.parse::<usize>() else { break };
        let (sig, status) = rest.strip_suffix(']').and_then(|r| r.rsplit_once(" [")).expect("a bucket line");
        let example = lines[i + 1].strip_prefix("e.g. ").expect("an example line").to_string();
        let reproduce = lines[i + 2].strip_prefix("reproduce: ").expect("a reproduce line").to_string();
        buckets.insert(sig.to_string(), (count, status.to_string(), example, reproduce));
        i += 3;
    }
    SummaryView { counts, buckets }
}

/// Asserts that the merge's summary counts and buckets what one machine's did: the same counts, the
/// same buckets with the same sizes and verdicts, each example a program of its bucket (the first
/// one each saw may differ) with the reproduce command that names it.
pub fn assert_same_summary(single: &str, merged: &str, single_records: &[Value], ctx: &str) {
    let (s, m) = (summary(single), summary(merged));
    assert_eq!(m.counts, s.counts, "{ctx}: counts\n--- single ---\n{single}\n--- merged ---\n{merged}");
    let shape =
        |v: &SummaryView| v.buckets.iter().map(|(k, b)| (k.clone(), b.0, b.1.clone())).collect::<Vec<_>>();
    assert_eq!(shape(&m), shape(&s), "{ctx}: buckets\n--- single ---\n{single}\n--- merged ---\n{merged}");
    for (sig, (_, _, example, reproduce)) in &m.buckets {
        let of_bucket =
            single_records.iter().any(|r| r["program"] == json!(example) && r["signature"] == json!(sig));
        assert!(of_bucket, "{ctx}: {example} is not a program of bucket {sig:?}");
        let (_, _, _, single_reproduce) = &s.buckets[sig];
        let prefix = single_reproduce.rsplit_once(' ').map_or("", |p| p.0);
        assert_eq!(reproduce, &format!("{prefix} {example}"), "{ctx}: the reproduce command of {sig:?}");
    }
}

/// The processes below `pid`, deepest first (`/proc/<pid>/task/*/children`).
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.flatten().collect::<Vec<_>>());
    for task in tasks.unwrap_or_default() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
            out.extend(descendants(child));
            out.push(child);
        }
    }
    out
}
