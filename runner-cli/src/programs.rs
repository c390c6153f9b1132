//! A batch's program list, kept compact: every path's bytes in one buffer, in the order they were
//! found, and the sorted, deduplicated order as indices into it. A million programs cost their
//! paths' bytes and 12 bytes each, not a million `PathBuf`s and the jobs made of them; jobs are made
//! from the list one at a time as workers take them. [`Marks`] is one bit per program (the programs
//! `--resume` finds already recorded).
//!
//! The order is [`Path`]'s (component by component), the order `--workers 1` runs programs in and
//! the one their `index` counts in.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Collects paths, then sorts and deduplicates them into a [`ProgramList`].
#[derive(Default)]
pub struct Builder {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Builder {
    /// Adds a path.
    pub fn push(&mut self, path: &Path) {
        self.bytes.extend_from_slice(path.as_os_str().as_bytes());
        self.ends.push(self.bytes.len());
    }

    /// The sorted, deduplicated list.
    pub fn finish(self) -> ProgramList {
        let Builder { mut bytes, mut ends } = self;
        bytes.shrink_to_fit();
        ends.shrink_to_fit();
        let count = u32::try_from(ends.len()).expect("fewer than 4 billion programs");
        let mut list = ProgramList { bytes, ends, order: (0..count).collect() };
        let mut order = std::mem::take(&mut list.order);
        order.sort_unstable_by(|&a, &b| list.entry(a).cmp(list.entry(b)));
        order.dedup_by(|a, b| list.entry(*a) == list.entry(*b));
        order.shrink_to_fit();
        list.order = order;
        list
    }
}

/// Program paths, sorted and without duplicates.
pub struct ProgramList {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    order: Vec<u32>,
}

impl ProgramList {
    fn entry(&self, at: u32) -> &Path {
        let at = at as usize;
        let start = if at == 0 { 0 } else { self.ends[at - 1] };
        Path::new(OsStr::from_bytes(&self.bytes[start..self.ends[at]]))
    }

    /// How many programs.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The program at `index` (its place in the sorted list).
    pub fn get(&self, index: usize) -> &Path {
        self.entry(self.order[index])
    }

    /// The programs in order.
    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The place of `path` in the list, if it is there.
    pub fn position(&self, path: &Path) -> Option<usize> {
        self.order.binary_search_by(|&at| self.entry(at).cmp(path)).ok()
    }
}

/// One bit per program of a list.
pub struct Marks {
    words: Vec<u64>,
    set: usize,
}

impl Marks {
    /// `len` unmarked programs.
    pub fn new(len: usize) -> Self {
        Marks { words: vec![0; len.div_ceil(64)], set: 0 }
    }

    /// Marks program `index`.
    pub fn mark(&mut self, index: usize) {
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        if self.words[word] & bit == 0 {
            self.words[word] |= bit;
            self.set += 1;
        }
    }

    /// Whether program `index` is marked.
    pub fn is_marked(&self, index: usize) -> bool {
        self.words[index / 64] & (1u64 << (index % 64)) != 0
    }

    /// How many programs are marked.
    pub fn count(&self) -> usize {
        self.set
    }
}

/// The list of `paths`, in the tests of this module and of `shard`.
#[cfg(test)]
pub(crate) fn list(paths: &[&str]) -> ProgramList {
    let mut b = Builder::default();
    for p in paths {
        b.push(Path::new(p));
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn sorts_by_component_as_pathbuf_does_and_drops_duplicates() {
        let paths = ["/a-b/c.py", "/a/b.py", "/a/b.py", "/a/a.py", "/b.py"];
        let l = list(&paths);
        let mut want: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        want.sort();
        want.dedup();
        let got: Vec<PathBuf> = (0..l.len()).map(|i| l.get(i).to_path_buf()).collect();
        assert_eq!(got, want, "the order of Path, not of bytes ('/' sorts after '-' as a byte)");
        for (i, p) in want.iter().enumerate() {
            assert_eq!(l.position(p), Some(i));
        }
        assert_eq!(l.position(Path::new("/a/c.py")), None);
    }

    #[test]
    fn paths_that_are_not_utf8_are_kept_exactly() {
        let odd = Path::new(OsStr::from_bytes(b"/x/\xff.py"));
        let mut b = Builder::default();
        b.push(odd);
        b.push(Path::new("/x/a.py"));
        let l = b.finish();
        assert_eq!(l.position(odd).map(|i| l.get(i)), Some(odd));
    }

    #[test]
    fn marks_count_each_program_once() {
        let mut m = Marks::new(130);
        for i in [0, 64, 129, 64] {
            m.mark(i);
        }
        assert_eq!(m.count(), 3);
        assert!(m.is_marked(129) && m.is_marked(0) && !m.is_marked(1) && !m.is_marked(128));
    }
}
