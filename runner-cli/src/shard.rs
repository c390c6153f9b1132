//! A sharded `runner batch`: which programs of the list this shard runs, the files it writes so
//! that N writers on a shared filesystem never share one (`-o DIR/` is
//! `DIR/results-<K>-of-<N>.jsonl`; `{K}` and `{N}` in a name are the shard's numbers), the `shard`
//! object of its records and its line in the summary. Which shard it is comes from
//! [`crate::settings::shard`] (the flag, or the scheduler's variables); how programs are dealt out
//! is [`runner_core::shard::Partition`]'s. Nothing here runs anything.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use runner_core::shard::{fnv1a, Chosen, Partition, Root, Shard, ShardRecord};
use runner_core::{Mode, RunConfig};

use crate::programs::{Marks, ProgramList};
use crate::settings::SettingsError;

/// The programs of one shard, and how it was chosen.
pub struct Selection {
    /// The shard and where it came from.
    pub chosen: Chosen,
    /// How programs were dealt out.
    pub partition: Partition,
    /// The campaign's root, which hash partitions hash paths relative to.
    pub root: PathBuf,
    /// One bit per program of the list: in this shard.
    pub members: Marks,
}

/// Deals `programs` out by `partition` and keeps those of `chosen`'s shard. The list's index of a
/// program (its place in the sorted list) stays its index in records, so records of every shard
/// count in the same list.
pub fn select(programs: &ProgramList, root: &Root, chosen: Chosen, partition: Partition) -> Selection {
    let (k, n) = (chosen.shard.index(), chosen.shard.count());
    let shards: Vec<u32> = match partition {
        Partition::Hash => {
            let relatives: Vec<&[u8]> = programs.iter().map(|p| root.relative(p)).collect();
            Partition::Hash.deal(&relatives, n)
        }
        Partition::Slice => (0..programs.len()).map(|i| runner_core::shard::slice_shard(i, n)).collect(),
    };
    let mut members = Marks::new(programs.len());
    for (i, _) in shards.iter().enumerate().filter(|(_, &s)| s == k) {
        members.mark(i);
    }
    let root = root.path().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    Selection { chosen, partition, root, members }
}

impl Selection {
    /// How many programs this shard has.
    pub fn size(&self) -> usize {
        self.members.count()
    }

    /// The `shard` object of this shard's records, in a campaign of `total` programs run in `mode`
    /// with `settings` ([`settings_fingerprint`]).
    pub fn record(&self, total: usize, mode: Mode, settings: String) -> ShardRecord {
        ShardRecord {
            index: self.chosen.shard.index(),
            count: self.chosen.shard.count(),
            partition: self.partition,
            source: self.chosen.source,
            programs: self.size(),
            total,
            root: self.root.clone(),
            mode,
            settings,
        }
    }

    /// The summary's line: which shard ran, how it was chosen, and its share of the campaign.
    pub fn line(&self, total: usize) -> String {
        let how = match self.partition {
            Partition::Hash => format!("hash of the paths under {}", self.root.display()),
            Partition::Slice => "slice of the sorted list".to_string(),
        };
        format!(
            "shard {} of {} ({how}; from {}): {} of the campaign's {total} programs",
            self.chosen.shard.index(),
            self.chosen.shard.count(),
            self.chosen.origin,
            self.size()
        )
    }
}

/// Where a sharded batch writes what `flag` (`-o`, `--junit`) names: `DIR/` (or an existing
/// directory) becomes `DIR/<stem>-<K>-of-<N>.<ext>` (`DIR/<stem>.<ext>` without a shard); `{K}` and
/// `{N}` in the name become the shard's numbers (1 and 1 without a shard); any other name is used as
/// it is. Nothing is created here ([`OutputPath::create_dir`] makes `DIR/` when the batch writes).
pub fn output_path(flag: &Path, shard: Option<Shard>) -> OutputPath {
    OutputPath { flag: flag.to_path_buf(), shard }
}

/// An output file of a batch, as `-o` or `--junit` named it.
pub struct OutputPath {
    flag: PathBuf,
    shard: Option<Shard>,
}

impl OutputPath {
    /// Whether the flag names a directory (`DIR/`, or an existing directory).
    fn is_dir(&self) -> bool {
        self.flag.as_os_str().as_bytes().ends_with(b"/") || self.flag.is_dir()
    }

    /// The file, for a report whose name in a directory is `<stem>-<K>-of-<N>.<ext>`.
    pub fn file(&self, stem: &str, ext: &str) -> PathBuf {
        let (k, n) = self.shard.map_or((1, 1), |s| (s.index(), s.count()));
        if self.is_dir() {
            let name = match self.shard {
                Some(_) => format!("{stem}-{k}-of-{n}.{ext}"),
                None => format!("{stem}.{ext}"),
            };
            return self.flag.join(name);
        }
        let bytes = self.flag.as_os_str().as_bytes();
        let replaced =
            replace(&replace(bytes, b"{K}", k.to_string().as_bytes()), b"{N}", n.to_string().as_bytes());
        PathBuf::from(OsString::from_vec(replaced))
    }

    /// Makes the directory a `DIR/` flag names, when it is missing (N shards may do it at once).
    pub fn create_dir(&self) -> Result<(), SettingsError> {
        if self.is_dir() {
            std::fs::create_dir_all(&self.flag)
                .map_err(|source| SettingsError::Unwritable { path: self.flag.clone(), source })?;
        }
        Ok(())
    }
}

/// `haystack` with every `needle` replaced by `with`.
fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// A fingerprint of the settings that shape a program's record: the mode asked for, the preloads,
/// the timeout, the output cap, executor reuse and the ignore patterns (not the interpreter's path,
/// which may differ from machine to machine, nor the workers or devices). Shards run with other
/// settings are another campaign to `runner merge`. FNV-1a of their text, as 16 hex digits.
pub fn settings_fingerprint(config: &RunConfig, ignore: &[String]) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "mode {}", config.mode);
    let _ = writeln!(text, "preload {}", config.preload.join(","));
    let _ = writeln!(text, "timeout {:?}", config.timeout.map(|t| t.as_secs_f64()));
    let _ = writeln!(text, "max_output {}", config.max_output);
    let _ = writeln!(text, "max_programs_per_executor {:?}", config.max_programs_per_executor);
    for pattern in ignore {
        let _ = writeln!(text, "ignore {pattern:?}");
    }
    format!("{:016x}", fnv1a(text.as_bytes()))
}

/// The path of `bytes`.
#[cfg(test)]
fn path(bytes: &[u8]) -> &Path {
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::programs::list;
    use runner_core::shard::Source;

    fn chosen(spec: &str) -> Chosen {
        Chosen { shard: spec.parse().unwrap(), source: Source::Flag, origin: format!("--shard {spec}") }
    }

    #[test]
    fn every_program_is_in_exactly_one_shard_and_hash_shards_ignore_the_rest_of_the_list() {
        let paths: Vec<String> = (0..200).map(|i| format!("/c/d{}/p{i}.py", i % 7)).collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let programs = list(&refs);
        let mut root = Root::default();
        root.add_dir(Path::new("/c"));
        for partition in [Partition::Hash, Partition::Slice] {
            let shards: Vec<Selection> =
                (1..=4).map(|k| select(&programs, &root, chosen(&format!("{k}/4")), partition)).collect();
            for i in 0..programs.len() {
                let owners = shards.iter().filter(|s| s.members.is_marked(i)).count();
                assert_eq!(owners, 1, "{partition}: program {i} in {owners} shards");
            }
            assert_eq!(shards.iter().map(Selection::size).sum::<usize>(), 200);
        }
        // A program keeps its hash shard when others are added (the shards here have room).
        let grown: Vec<&str> = refs.iter().copied().chain(["/c/new/a.py", "/c/d1/zz.py"]).collect();
        let before = select(&programs, &root, chosen("3/4"), Partition::Hash);
        let after = select(&list(&grown), &root, chosen("3/4"), Partition::Hash);
        let names = |s: &Selection, l: &ProgramList| {
            (0..l.len())
                .filter(|&i| s.members.is_marked(i))
                .map(|i| l.get(i).to_path_buf())
                .collect::<Vec<_>>()
        };
        let (old, new) = (names(&before, &programs), names(&after, &list(&grown)));
        assert!(old.iter().all(|p| new.contains(p)), "programs left shard 3 when others were added");
    }

    #[test]
    fn the_slice_partition_deals_the_sorted_list_out() {
        let programs = list(&["/c/e.py", "/c/a.py", "/c/d.py", "/c/b.py", "/c/c.py"]);
        let s = select(&programs, &Root::default(), chosen("2/2"), Partition::Slice);
        let got: Vec<&Path> = (0..5).filter(|&i| s.members.is_marked(i)).map(|i| programs.get(i)).collect();
        assert_eq!(got, [Path::new("/c/b.py"), Path::new("/c/d.py")]);
    }

    #[test]
    fn an_empty_shard_is_a_shard() {
        let programs = list(&["/c/a.py"]);
        let empty = (1..=3)
            .map(|k| select(&programs, &Root::default(), chosen(&format!("{k}/3")), Partition::Slice))
            .filter(|s| s.size() == 0)
            .count();
        assert_eq!(empty, 2);
    }

    #[test]
    fn output_names_never_collide_between_shards() {
        let dir = tempfile::tempdir().unwrap();
        let shard = Some(Shard::new(3, 8).unwrap());
        let sub = dir.path().join("out");
        let mut flag = sub.clone().into_os_string();
        flag.push("/");
        let out = output_path(Path::new(&flag), shard);
        assert_eq!(out.file("results", "jsonl"), sub.join("results-3-of-8.jsonl"));
        assert!(!sub.exists(), "naming creates nothing");
        out.create_dir().unwrap();
        assert!(sub.is_dir(), "DIR/ is created when the batch writes");
        assert_eq!(output_path(&sub, None).file("junit", "xml"), sub.join("junit.xml"));
        assert_eq!(
            output_path(Path::new("r/{K}-of-{N}.{K}.jsonl"), shard).file("results", "jsonl"),
            Path::new("r/3-of-8.3.jsonl")
        );
        assert_eq!(output_path(Path::new("r.jsonl"), shard).file("results", "jsonl"), Path::new("r.jsonl"));
        assert_eq!(
            output_path(path(b"/x/\xff{K}.jsonl"), shard).file("results", "jsonl"),
            path(b"/x/\xff3.jsonl")
        );
    }

    #[test]
    fn the_settings_fingerprint_changes_with_what_shapes_results_only() {
        let config = RunConfig::new(Mode::Warm, "/venv/bin/python".into());
        let base = settings_fingerprint(&config, &[]);
        assert_eq!(base.len(), 16);
        let mut elsewhere = config.clone();
        elsewhere.python = "/other/bin/python".into();
        elsewhere.seed = Some(3);
        assert_eq!(settings_fingerprint(&elsewhere, &[]), base, "the interpreter's path and the seed");
        let mut timeout = config.clone();
        timeout.timeout = Some(std::time::Duration::from_secs(5));
        let mut preload = config.clone();
        preload.preload = vec!["torch".into()];
        for other in [
            settings_fingerprint(&timeout, &[]),
            settings_fingerprint(&preload, &[]),
            settings_fingerprint(&config, &["K.*".into()]),
            settings_fingerprint(&RunConfig::new(Mode::Fork, "/venv/bin/python".into()), &[]),
        ] {
            assert_ne!(other, base);
        }
    }
}
