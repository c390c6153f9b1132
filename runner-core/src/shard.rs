//! Sharding a campaign over many machines: which shard of how many a run is, where that came from
//! (`--shard K/N`, a Slurm array task, a Kubernetes Indexed Job), and which programs belong to it.
//! Every machine computes the same split from the same program list without talking to the others.
//!
//! Shards are numbered from 1 (`K/N`, as nextest's `--partition`). Two partitions:
//!
//! - [`Partition::Hash`] (the default): consistent hashing with bounded loads (Mirrokni, Thorup and
//!   Zadimoghaddam, 2018) over each program's path relative to the campaign's root ([`Root`], the
//!   common directory of the inputs), so the corpus may live under another directory on another
//!   machine. A program's first choice is its hash mod N ([`path_hash`]: FNV-1a over the relative
//!   path's bytes, mixed by MurmurHash3's 64-bit finaliser); programs are dealt in the order of their
//!   hashes, and one whose shard is full (the mean plus [`HASH_SLACK_PERCENT`]%, rounded up: see
//!   [`hash_capacity`]) goes to the next shard that is not, wrapping from N to 1. So no shard is more
//!   than 3% above the mean, and a program keeps its shard when others are added unless its shard
//!   was full (at 100,000 programs and N = 64, about 0.02% move when 1% are added; pure hashing
//!   would leave the largest shard 6% above the mean). It never changes between machines or versions
//!   (the tests pin its values).
//! - [`Partition::Slice`]: the sorted list dealt out, program `i` (from 0) to shard `i mod N + 1`;
//!   exactly even, but a program's shard moves when the list changes.
//!
//! This module is vocabulary: it reads an environment through a lookup function and never touches
//! the process's own, and it knows nothing of files, flags or records beyond [`ShardRecord`], the
//! `shard` object that every record of a sharded batch carries.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::Mode;

/// Slurm's array variables, as `sbatch --array` sets them in each task.
pub const SLURM_ARRAY_TASK_ID: &str = "SLURM_ARRAY_TASK_ID";
/// How many tasks the array has.
pub const SLURM_ARRAY_TASK_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
/// The array's lowest task ID.
pub const SLURM_ARRAY_TASK_MIN: &str = "SLURM_ARRAY_TASK_MIN";
/// The array's highest task ID.
pub const SLURM_ARRAY_TASK_MAX: &str = "SLURM_ARRAY_TASK_MAX";
/// The array's step (`--array=0-62:2`).
pub const SLURM_ARRAY_TASK_STEP: &str = "SLURM_ARRAY_TASK_STEP";
/// A Kubernetes Indexed Job's completion index (from 0); Kubernetes gives no count.
pub const JOB_COMPLETION_INDEX: &str = "JOB_COMPLETION_INDEX";

/// The most shards a campaign may have.
pub const MAX_SHARDS: u32 = 1_000_000;

/// A shard's problem: a bad `K/N`, or scheduler variables that do not name one shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// `--shard` is not `K/N` with 1 <= K <= N.
    #[error("{0:?} is not K/N with 1 <= K <= N <= {MAX_SHARDS} (shards count from 1)")]
    BadSpec(String),
    /// A scheduler variable is not a number, or the numbers do not fit together.
    #[error("{0}")]
    Environment(String),
}

/// Shard `index` of `count`, `index` from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` (from 1) of `count`, or `None` when `index` is not in `1..=count` or `count`
    /// is above [`MAX_SHARDS`].
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (1..=count).contains(&index).then_some(Shard { index, count }).filter(|_| count <= MAX_SHARDS)
    }

    /// K: this shard's number, from 1.
    pub fn index(self) -> u32 {
        self.index
    }

    /// N: how many shards the campaign has.
    pub fn count(self) -> u32 {
        self.count
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// `K/N`, with 1 <= K <= N.
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::BadSpec(s.to_string());
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let number = |t: &str| t.trim().parse::<u32>().map_err(|_| bad());
        Shard::new(number(k)?, number(n)?).ok_or_else(bad)
    }
}

/// How programs are dealt out to shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Partition {
    /// By a stable hash of the program's path relative to the campaign's root, with bounded loads
    /// ([`Partition::deal`]).
    #[default]
    Hash,
    /// The sorted list dealt out: program `i` (from 0) to shard `i mod N + 1`.
    Slice,
}

impl Partition {
    /// The name in records and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Hash => "hash",
            Partition::Slice => "slice",
        }
    }

    /// Deals a campaign's programs out to `count` shards: the shard (from 1) of each program, in list
    /// order. `relatives[i]` is program `i`'s path relative to the campaign's root ([`Root::relative`]);
    /// the slice partition uses only the list's order. Every machine that sees the same list gets the
    /// same split.
    pub fn deal(self, relatives: &[&[u8]], count: u32) -> Vec<u32> {
        let n = count.max(1);
        match self {
            Partition::Slice => (0..relatives.len()).map(|i| slice_shard(i, n)).collect(),
            Partition::Hash => {
                let capacity = hash_capacity(relatives.len(), n);
                let mut order: Vec<(u64, usize)> =
                    relatives.iter().enumerate().map(|(i, r)| (path_hash(r), i)).collect();
                order.sort_unstable_by(|a, b| {
                    a.0.cmp(&b.0).then_with(|| relatives[a.1].cmp(relatives[b.1])).then(a.1.cmp(&b.1))
                });
                let mut load = vec![0usize; n as usize];
                let mut shards = vec![0u32; relatives.len()];
                for (hash, i) in order {
                    // n * capacity >= the number of programs, so a shard with room is always found.
                    let mut at = (hash % u64::from(n)) as usize;
                    while load[at] >= capacity {
                        at = (at + 1) % n as usize;
                    }
                    load[at] += 1;
                    shards[i] = at as u32 + 1;
                }
                shards
            }
        }
    }
}

/// How far above the mean a hash shard may grow, in percent of the mean.
pub const HASH_SLACK_PERCENT: u64 = 3;

/// The most programs a hash shard holds in a campaign of `total` programs over `count` shards: the
/// mean plus [`HASH_SLACK_PERCENT`]%, rounded up (so at least 1 when there is a program).
pub fn hash_capacity(total: usize, count: u32) -> usize {
    let (total, n) = (total as u128, u128::from(count.max(1)));
    (total * u128::from(100 + HASH_SLACK_PERCENT)).div_ceil(100 * n) as usize
}

/// The hash shard (from 1) a program is dealt to when that shard has room: its [`path_hash`] mod
/// `count`, plus 1.
pub fn first_choice(relative: &[u8], count: u32) -> u32 {
    (path_hash(relative) % u64::from(count.max(1))) as u32 + 1
}

/// The slice shard (from 1) of the program at `index` of the sorted list: `index mod count`, plus 1.
pub fn slice_shard(index: usize, count: u32) -> u32 {
    (index as u64 % u64::from(count.max(1))) as u32 + 1
}

/// Whether a program may be in hash shard `shard` of `count`, as far as the shards' sizes tell,
/// without the campaign's list: it is its [`first_choice`], or every shard from its first choice up
/// to `shard` (wrapping from N to 1) was full (`size_of` gives a shard's size, `None` when it is
/// not known). `Err` names the shard the program was dealt to instead: the first one on that way
/// with room.
pub fn check_hash_shard(
    relative: &[u8],
    shard: u32,
    count: u32,
    capacity: usize,
    size_of: impl Fn(u32) -> Option<usize>,
) -> Result<(), u32> {
    let n = count.max(1);
    let mut at = first_choice(relative, n);
    for _ in 0..n {
        if at == shard {
            return Ok(());
        }
        if size_of(at).is_some_and(|size| size < capacity) {
            return Err(at);
        }
        at = at % n + 1;
    }
    Err(first_choice(relative, n))
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// FNV-1a (64-bit: offset basis 0xcbf29ce484222325, prime 0x100000001b3) of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The hash partition's hash of a relative path: [`fnv1a`] of its bytes, then MurmurHash3's 64-bit
/// finaliser (`fmix64`), which spreads every input bit over the low bits that `mod N` keeps (FNV-1a
/// alone keeps the low bits of a byte in the low bits of the hash: names that differ in one digit
/// would fall into few shards when N is a power of two). Fixed for good: every machine and every
/// version of runner computes the same value, so shards computed apart agree.
pub fn path_hash(relative: &[u8]) -> u64 {
    let mut k = fnv1a(relative);
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// The campaign's root: the deepest directory that holds every input (a directory given, or a
/// file's directory). Programs are hashed by their path relative to it, so a corpus moved to
/// another directory (another machine's mount point) keeps its split, and a program keeps its shard
/// when programs are added under the same inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Root {
    dir: Option<PathBuf>,
}

impl Root {
    /// Takes in an input directory (absolute): the root becomes the deepest directory that holds
    /// it and every earlier one.
    pub fn add_dir(&mut self, dir: &Path) {
        self.dir = Some(match self.dir.take() {
            None => dir.to_path_buf(),
            Some(old) => {
                let mut common = PathBuf::new();
                for (a, b) in old.components().zip(dir.components()) {
                    if a != b {
                        break;
                    }
                    common.push(a);
                }
                common
            }
        });
    }

    /// Takes in an input file (absolute): its directory.
    pub fn add_file(&mut self, file: &Path) {
        self.add_dir(file.parent().unwrap_or(Path::new("/")));
    }

    /// The root, or `None` when nothing was added.
    pub fn path(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// `program`'s path below the root, as bytes with `/` between components (`sub/p.py`); the
    /// whole path when it is not below the root.
    pub fn relative<'a>(&self, program: &'a Path) -> &'a [u8] {
        relative_to(program, self.dir.as_deref().unwrap_or(Path::new("/")))
    }
}

/// `path` below `root` as bytes (`sub/p.py`), or all of `path` when it is not below `root`.
pub fn relative_to<'a>(path: &'a Path, root: &Path) -> &'a [u8] {
    // The paths runner makes are normalised (no `.`, no `//`, no trailing `/`): their bytes after
    // the root's and a `/` are the relative path, found without parsing components (a million
    // paths are dealt out in a fraction of the time). Anything else takes the component-wise road.
    let (bytes, root_bytes) = (path.as_os_str().as_bytes(), root.as_os_str().as_bytes());
    let fast = bytes
        .strip_prefix(root_bytes.strip_suffix(b"/").unwrap_or(root_bytes))
        .and_then(|rest| rest.strip_prefix(b"/"))
        .filter(|rest| is_plain(rest));
    if let Some(rest) = fast {
        return rest;
    }
    match path.strip_prefix(root) {
        Ok(rest) if !rest.as_os_str().is_empty() => rest.as_os_str().as_bytes(),
        _ => path.as_os_str().as_bytes(),
    }
}

/// Whether `rest` is a relative path whose bytes are its components joined by single `/`s (no
/// empty, `.` or `..` component, nothing before the first or after the last).
fn is_plain(rest: &[u8]) -> bool {
    !rest.is_empty() && rest.split(|b| *b == b'/').all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// Where a run's shard came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `--shard K/N` (a CI matrix, a resubmission, a hand-made split).
    Flag,
    /// A Slurm job array task (`SLURM_ARRAY_TASK_*`).
    Slurm,
    /// A Kubernetes Indexed Job (`JOB_COMPLETION_INDEX` and `--shard-count`).
    Kubernetes,
}

impl Source {
    /// The name in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Slurm => "slurm",
            Source::Kubernetes => "kubernetes",
        }
    }
}

/// A run's shard and how it was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    /// The shard.
    pub shard: Shard,
    /// Where it came from.
    pub source: Source,
    /// For people: `--shard 2/8`, `Slurm array task 5 of 1-8`, `Kubernetes completion index 1`.
    pub origin: String,
}

/// The shard the environment names, when no `--shard` is given: a Slurm array task
/// (`SLURM_ARRAY_TASK_ID` mapped through the array's `MIN`, `STEP` and `COUNT`, so `--array=0-31`,
/// `1-32` and `0-62:2` all give shards 1 to 32), else a Kubernetes Indexed Job
/// (`JOB_COMPLETION_INDEX` + 1 of `count`, which the caller takes from `--shard-count`, since
/// Kubernetes gives none). `None` when neither is there. `get` looks a variable up (an empty value
/// counts as unset).
pub fn from_environment(
    get: impl Fn(&str) -> Option<String>,
    count: Option<u32>,
) -> Result<Option<Chosen>, ShardError> {
    let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    let number = |name: &str| -> Result<Option<u64>, ShardError> {
        get(name)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| ShardError::Environment(format!("{name}={v:?} is not a whole number")))
            })
            .transpose()
    };
    if let Some(id) = number(SLURM_ARRAY_TASK_ID)? {
        let need = |name: &str| {
            number(name)?.ok_or_else(|| {
                ShardError::Environment(format!("{SLURM_ARRAY_TASK_ID} is set but {name} is not"))
            })
        };
        let tasks = need(SLURM_ARRAY_TASK_COUNT)?;
        let min = need(SLURM_ARRAY_TASK_MIN)?;
        let step = number(SLURM_ARRAY_TASK_STEP)?.unwrap_or(1).max(1);
        let max = number(SLURM_ARRAY_TASK_MAX)?;
        let array = match max {
            Some(max) if step > 1 => format!("{min}-{max}:{step}"),
            Some(max) => format!("{min}-{max}"),
            None => format!("{tasks} tasks from {min}"),
        };
        let irregular = || {
            ShardError::Environment(format!(
                "the Slurm array ({array}, {tasks} tasks) is not a range with a step, so task {id} \
                 names no shard: give --shard K/N"
            ))
        };
        if id < min
            || (id - min) % step != 0
            || max.is_some_and(|max| max < min || (max - min) / step + 1 != tasks)
        {
            return Err(irregular());
        }
        let index = (id - min) / step + 1;
        if let Some(n) = count.filter(|&n| u64::from(n) != tasks) {
            return Err(ShardError::Environment(format!(
                "--shard-count {n} but the Slurm array has {tasks} tasks"
            )));
        }
        let shard = u32::try_from(index)
            .ok()
            .zip(u32::try_from(tasks).ok())
            .and_then(|(k, n)| Shard::new(k, n))
            .ok_or_else(irregular)?;
        return Ok(Some(Chosen {
            shard,
            source: Source::Slurm,
            origin: format!("Slurm array task {id} of {array}"),
        }));
    }
    if let Some(at) = number(JOB_COMPLETION_INDEX)? {
        let n = count.ok_or_else(|| {
            ShardError::Environment(format!(
                "{JOB_COMPLETION_INDEX}={at} but Kubernetes gives no count: pass --shard-count N \
                 (the Job's completions), or --shard 1/1 to run every program"
            ))
        })?;
        let shard = u32::try_from(at + 1).ok().and_then(|k| Shard::new(k, n)).ok_or_else(|| {
            ShardError::Environment(format!("{JOB_COMPLETION_INDEX}={at} is not below --shard-count {n}"))
        })?;
        return Ok(Some(Chosen {
            shard,
            source: Source::Kubernetes,
            origin: format!("Kubernetes completion index {at} of {n}"),
        }));
    }
    match count {
        Some(_) => Err(ShardError::Environment(format!(
            "--shard-count names the count of a Kubernetes Indexed Job, but {JOB_COMPLETION_INDEX} is not set"
        ))),
        None => Ok(None),
    }
}

/// The `shard` object of every record of a sharded batch (and of its summary): which shard ran,
/// how it was chosen, and what makes the shards of one campaign fit together, which `runner merge`
/// checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// K, from 1.
    pub index: u32,
    /// N.
    pub count: u32,
    /// How programs were dealt out.
    pub partition: Partition,
    /// Where the shard came from.
    pub source: Source,
    /// Programs in this shard.
    pub programs: usize,
    /// Programs in the whole campaign (every shard).
    pub total: usize,
    /// The campaign's root ([`Root`]) as text; `root_bytes` has its exact bytes when it is not UTF-8.
    #[serde(flatten, with = "root_json")]
    pub root: PathBuf,
    /// The engine the shard ran in.
    pub mode: Mode,
    /// A fingerprint of the settings that shape results (the CLI says which), so that shards run
    /// with other settings are not merged as one campaign.
    pub settings: String,
}

impl ShardRecord {
    /// The shard.
    pub fn shard(&self) -> Option<Shard> {
        Shard::new(self.index, self.count)
    }
}

/// `root` as text, and `root_bytes` for a root that is not UTF-8 (as records write `program`).
mod root_json {
    use super::*;
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(root: &Path, s: S) -> Result<S::Ok, S::Error> {
        let bytes = root.as_os_str().as_bytes();
        let text = String::from_utf8_lossy(bytes);
        let exact = matches!(text, std::borrow::Cow::Borrowed(_));
        let mut map = s.serialize_map(Some(if exact { 1 } else { 2 }))?;
        map.serialize_entry("root", &text)?;
        if !exact {
            map.serialize_entry("root_bytes", bytes)?;
        }
        map.end()
    }

    #[derive(Deserialize)]
    struct Keys {
        root: String,
        #[serde(default)]
        root_bytes: Option<Vec<u8>>,
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        let k = Keys::deserialize(d)?;
        Ok(match k.root_bytes {
            Some(b) => PathBuf::from(OsStr::from_bytes(&b)),
            None => PathBuf::from(k.root),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn k_of_n_counts_from_1() {
        assert_eq!("2/8".parse::<Shard>().unwrap(), Shard::new(2, 8).unwrap());
        assert_eq!(" 1 / 1 ".parse::<Shard>().unwrap().to_string(), "1/1");
        for bad in ["0/8", "9/8", "8", "a/b", "1/0", "-1/2", "", "1/2/3", "1/1000001"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad:?}");
        }
    }

    /// The hash is part of the file format: shards computed on different machines, by different
    /// versions, must agree. These values are fixed for good; if this test fails, the change broke
    /// every campaign in flight.
    #[test]
    fn the_hash_is_fixed_for_good() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c, "FNV-1a's published test vector");
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8, "FNV-1a's published test vector");
        let cases: &[(&[u8], u64, u32)] = &[
            (b"p.py", 0xc394_f319_5f1c_98fc, 5),
            (b"sub/p.py", 0x4a3f_dacf_a198_6164, 5),
            (b"d0000/p0000000.py", 0xcee3_d83d_4376_cd81, 2),
            (b"caf\xe9.py", 0xe6fb_3acb_0da5_b2eb, 4),
        ];
        for &(rel, hash, first_of_8) in cases {
            assert_eq!(
                (path_hash(rel), first_choice(rel, 8)),
                (hash, first_of_8),
                "{}",
                String::from_utf8_lossy(rel)
            );
        }
        // Dealt together, the four go to shards of one program each (the capacity is 1): "p.py"
        // finds its first choice taken by "sub/p.py", whose hash is smaller, and takes the next.
        let four: Vec<&[u8]> = cases.iter().map(|c| c.0).collect();
        assert_eq!(Partition::Hash.deal(&four, 8), [6, 5, 2, 4]);
        // docs/cluster.md's Python twin gives these; so must every version of runner.
        let names: Vec<String> = (0..24).map(|i| format!("p{i}.py")).collect();
        let names: Vec<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
        assert_eq!(
            Partition::Hash.deal(&names, 4),
            [1, 2, 4, 3, 2, 2, 2, 2, 4, 4, 4, 1, 4, 1, 4, 3, 4, 3, 3, 1, 3, 1, 1, 1]
        );
    }

    #[test]
    fn slice_deals_the_sorted_list_out() {
        let got = Partition::Slice.deal(&[b"".as_slice(); 7], 3);
        assert_eq!(got, [1, 2, 3, 1, 2, 3, 1]);
        assert_eq!(Partition::Hash.deal(&[b"x.py".as_slice()], 1), [1]);
        assert_eq!(Partition::Hash.deal(&[], 5), Vec::<u32>::new());
    }

    /// Names of `count` programs, from `from`, as a campaign might have them.
    fn names(from: usize, count: usize) -> Vec<String> {
        (from..from + count).map(|i| format!("d{:03}/prog_{i:06}.py", i / 100)).collect()
    }

    fn bytes(names: &[String]) -> Vec<&[u8]> {
        names.iter().map(|n| n.as_bytes()).collect()
    }

    #[test]
    fn no_hash_shard_is_more_than_3_percent_above_the_mean() {
        for (programs, n) in [(20_000, 64), (20_000, 7), (1_000, 3), (10, 4), (3, 8), (1, 1)] {
            let names = names(0, programs);
            let shards = Partition::Hash.deal(&bytes(&names), n);
            let mut sizes = vec![0usize; n as usize];
            for &k in &shards {
                assert!((1..=n).contains(&k), "{programs}/{n}: shard {k}");
                sizes[k as usize - 1] += 1;
            }
            let largest = *sizes.iter().max().unwrap();
            let mean = programs as f64 / f64::from(n);
            assert!(largest <= hash_capacity(programs, n), "{programs}/{n}: {sizes:?}");
            assert!(largest as f64 <= (mean * 1.03).ceil(), "{programs}/{n}: {largest} against {mean}");
        }
        assert_eq!(hash_capacity(100_000, 64), 1610);
        assert_eq!(hash_capacity(0, 64), 0);
        assert_eq!(hash_capacity(1, 64), 1);
    }

    #[test]
    fn a_program_keeps_its_hash_shard_when_others_are_added_unless_its_shard_was_full() {
        let n = 64;
        // The issue's campaign: 100,000 programs in 64 shards, then 1% more.
        let old = names(0, 100_000);
        let mut grown = old.clone();
        grown.extend(names(1_000_000, 1_000));
        let before = Partition::Hash.deal(&bytes(&old), n);
        let after = Partition::Hash.deal(&bytes(&grown), n);
        let mut sizes_after = vec![0usize; n as usize + 1];
        for &k in &after {
            sizes_after[k as usize] += 1;
        }
        let capacity = hash_capacity(grown.len(), n);
        let (mut moved, mut displaced) = (0, 0);
        for (i, name) in old.iter().enumerate() {
            let first = first_choice(name.as_bytes(), n);
            displaced += usize::from(before[i] != first);
            if before[i] != after[i] {
                moved += 1;
                // A program in its first choice loses it only to newcomers that filled that shard.
                assert!(
                    before[i] != first || sizes_after[first as usize] == capacity,
                    "{name} left its first choice, shard {first}, which has room"
                );
            }
        }
        assert!(displaced > 0, "no program was displaced: the test checks nothing");
        // Pure hashing would move none and leave shards 6% apart; bounded loads move a few (the
        // fewer, the larger the shards: with 300-program shards about 0.5% move).
        assert!(moved * 1000 < old.len(), "{moved} of {} programs moved", old.len());
    }

    #[test]
    fn a_program_s_hash_shard_is_checked_against_the_shards_sizes() {
        let n = 16;
        let names = names(0, 5_000);
        let names = bytes(&names);
        let shards = Partition::Hash.deal(&names, n);
        let mut sizes = vec![0usize; n as usize + 1];
        for &k in &shards {
            sizes[k as usize] += 1;
        }
        let capacity = hash_capacity(names.len(), n);
        let size_of = |k: u32| Some(sizes[k as usize]);
        let mut displaced = 0;
        for (name, &k) in names.iter().zip(&shards) {
            assert_eq!(check_hash_shard(name, k, n, capacity, size_of), Ok(()));
            let first = first_choice(name, n);
            if first != k {
                displaced += 1;
                continue;
            }
            if sizes[first as usize] < capacity {
                // In a shard with room: anywhere else is wrong, and the error names its shard.
                assert_eq!(check_hash_shard(name, first % n + 1, n, capacity, size_of), Err(first));
            }
        }
        assert!(displaced > 0, "no program was displaced: the test checks nothing");
        // Sizes not known: a displaced program cannot be told from a misplaced one, and passes.
        let far = first_choice(names[0], n) % n + 1;
        assert_eq!(check_hash_shard(names[0], far, n, capacity, |_| None), Ok(()));
    }

    #[test]
    fn the_root_is_the_deepest_directory_holding_every_input() {
        let mut root = Root::default();
        assert_eq!(root.path(), None);
        root.add_dir(Path::new("/data/corpus/a"));
        assert_eq!(root.path(), Some(Path::new("/data/corpus/a")));
        root.add_file(Path::new("/data/corpus/b/x.py"));
        assert_eq!(root.path(), Some(Path::new("/data/corpus")));
        // Components, not bytes: /data/corpus-2 is not under /data/corpus.
        root.add_dir(Path::new("/data/corpus-2"));
        assert_eq!(root.path(), Some(Path::new("/data")));
        assert_eq!(root.relative(Path::new("/data/corpus/a/p.py")), b"corpus/a/p.py");
        assert_eq!(relative_to(Path::new("/elsewhere/p.py"), Path::new("/data")), b"/elsewhere/p.py");
        // Paths that are not normalised give what their components give.
        for odd in ["/data//a/p.py", "/data/./a/p.py", "/data/a/p.py/"] {
            let components = Path::new(odd).strip_prefix("/data").unwrap().as_os_str().as_bytes();
            assert_eq!(relative_to(Path::new(odd), Path::new("/data")), components, "{odd}");
        }
        root.add_file(Path::new("/x.py"));
        assert_eq!(root.path(), Some(Path::new("/")));
        assert_eq!(root.relative(Path::new("/data/p.py")), b"data/p.py");
    }

    #[test]
    fn a_moved_corpus_keeps_its_split() {
        let split = |base: &str| {
            let mut root = Root::default();
            root.add_dir(Path::new(base));
            let programs = (0..50)
                .map(|i| {
                    let p = PathBuf::from(format!("{base}/d{}/p{i}.py", i % 3));
                    p
                })
                .collect::<Vec<_>>();
            let programs: Vec<PathBuf> = programs;
            let relatives: Vec<&[u8]> = programs.iter().map(|p| root.relative(p)).collect();
            Partition::Hash.deal(&relatives, 4)
        };
        assert_eq!(split("/scratch/alice/corpus"), split("/mnt/c"));
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    /// A Slurm array task: (task id, count, min, max, step).
    type Task = (u64, u64, u64, u64, Option<u64>);

    fn slurm(
        (id, count, min, max, step): Task,
        shard_count: Option<u32>,
    ) -> Result<Option<Chosen>, ShardError> {
        let mut vars = vec![
            (SLURM_ARRAY_TASK_ID, id.to_string()),
            (SLURM_ARRAY_TASK_COUNT, count.to_string()),
            (SLURM_ARRAY_TASK_MIN, min.to_string()),
            (SLURM_ARRAY_TASK_MAX, max.to_string()),
        ];
        if let Some(s) = step {
            vars.push((SLURM_ARRAY_TASK_STEP, s.to_string()));
        }
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        from_environment(env(&vars), shard_count)
    }

    #[test]
    fn slurm_arrays_map_to_shards_from_1() {
        let cases: &[(Task, &str)] = &[
            // --array=0-31
            ((0, 32, 0, 31, Some(1)), "1/32"),
            ((31, 32, 0, 31, Some(1)), "32/32"),
            // --array=1-32
            ((1, 32, 1, 32, Some(1)), "1/32"),
            ((32, 32, 1, 32, None), "32/32"),
            // --array=0-62:2
            ((0, 32, 0, 62, Some(2)), "1/32"),
            ((62, 32, 0, 62, Some(2)), "32/32"),
            ((10, 32, 0, 62, Some(2)), "6/32"),
            // --array=7
            ((7, 1, 7, 7, Some(1)), "1/1"),
        ];
        for &(task, want) in cases {
            let chosen = slurm(task, None).unwrap().unwrap();
            assert_eq!(
                (chosen.shard.to_string(), chosen.source),
                (want.to_string(), Source::Slurm),
                "{task:?}"
            );
        }
        let chosen = slurm((10, 32, 0, 62, Some(2)), None).unwrap().unwrap();
        assert_eq!(chosen.origin, "Slurm array task 10 of 0-62:2");
    }

    #[test]
    fn slurm_arrays_that_name_no_shard_are_errors() {
        for task in [
            // --array=1,5,7: three tasks, no step fits.
            (5, 3, 1, 7, None),
            // A task off the step.
            (3, 32, 0, 62, Some(2)),
            // Below the minimum.
            (0, 4, 1, 4, Some(1)),
        ] {
            let e = slurm(task, None).unwrap_err().to_string();
            assert!(e.contains("--shard K/N"), "{task:?}: {e}");
        }
        let e = from_environment(env(&[(SLURM_ARRAY_TASK_ID, "x")]), None).unwrap_err();
        assert_eq!(e.to_string(), "SLURM_ARRAY_TASK_ID=\"x\" is not a whole number");
        let e = from_environment(env(&[(SLURM_ARRAY_TASK_ID, "1")]), None).unwrap_err();
        assert!(e.to_string().contains("SLURM_ARRAY_TASK_COUNT is not"), "{e}");
        assert!(slurm((1, 4, 1, 4, None), Some(5)).is_err(), "a count that contradicts the array");
        assert!(slurm((1, 4, 1, 4, None), Some(4)).is_ok());
    }

    #[test]
    fn kubernetes_needs_the_count_given_apart() {
        let k8s = |index: &str, count| from_environment(env(&[(JOB_COMPLETION_INDEX, index)]), count);
        let chosen = k8s("0", Some(4)).unwrap().unwrap();
        assert_eq!((chosen.shard.to_string(), chosen.source), ("1/4".to_string(), Source::Kubernetes));
        assert_eq!(k8s("3", Some(4)).unwrap().unwrap().shard.to_string(), "4/4");
        assert!(k8s("4", Some(4)).unwrap_err().to_string().contains("not below --shard-count 4"));
        assert!(k8s("0", None).unwrap_err().to_string().contains("pass --shard-count N"));
        // Slurm wins over Kubernetes; nothing set is no shard; a count alone is a mistake.
        assert_eq!(from_environment(env(&[]), None), Ok(None));
        assert_eq!(from_environment(env(&[(JOB_COMPLETION_INDEX, " ")]), None), Ok(None));
        assert!(from_environment(env(&[]), Some(3)).is_err());
    }

    #[test]
    fn the_record_names_the_root_exactly() {
        let record = ShardRecord {
            index: 2,
            count: 3,
            partition: Partition::Hash,
            source: Source::Slurm,
            programs: 5,
            total: 15,
            root: PathBuf::from(OsStr::from_bytes(b"/data/caf\xe9")),
            mode: Mode::Warm,
            settings: "0123456789abcdef".into(),
        };
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            json,
            r#"{"index":2,"count":3,"partition":"hash","source":"slurm","programs":5,"total":15,"root":"/data/caf�","root_bytes":[47,100,97,116,97,47,99,97,102,233],"mode":"warm","settings":"0123456789abcdef"}"#
        );
        assert_eq!(serde_json::from_str::<ShardRecord>(&json).unwrap(), record);
    }
}
