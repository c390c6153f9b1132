//! Collecting a batch's programs: files, directories (their `*.py`, recursively) and list files (one
//! path a line, `-` for stdin). Every input is checked before anything runs; the list is sorted and
//! free of duplicates, so `--workers 1` runs programs in a reproducible order. Paths are bytes, as
//! file names are: a name that is not UTF-8 is a program like any other. The inputs also give the
//! campaign's root (the deepest directory that holds them all), which the hash partition of
//! `--shard` hashes paths relative to.

use std::ffi::OsStr;
use std::io::BufRead;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use runner_core::shard::Root;

use crate::programs::{Builder, ProgramList};
use crate::settings::{absolute, check_program, SettingsError};

/// The programs named by `inputs` and `lists`, absolute, sorted, deduplicated, and the root of
/// the inputs: the deepest directory that holds every directory named and every file's directory
/// (a list's entries count as inputs).
pub fn collect(inputs: &[PathBuf], lists: &[PathBuf]) -> Result<(ProgramList, Root), SettingsError> {
    let mut found = Found::default();
    for input in inputs {
        add(input, &mut found)?;
    }
    for list in lists {
        read_list(list, &mut found)?;
    }
    Ok((found.programs.finish(), found.root))
}

/// What the inputs gave so far.
#[derive(Default)]
struct Found {
    programs: Builder,
    root: Root,
}

/// Adds a file, or a directory's programs.
fn add(input: &Path, found: &mut Found) -> Result<(), SettingsError> {
    let path = absolute(input);
    if path.is_dir() {
        found.root.add_dir(&path);
        walk(&path, &mut found.programs)
    } else {
        let program = check_program(&path)?;
        found.root.add_file(&program);
        found.programs.push(&program);
        Ok(())
    }
}

/// Adds the programs a list names, one path a line (bytes, not necessarily UTF-8); blank lines and
/// `#` comments are skipped.
fn read_list(list: &Path, found: &mut Found) -> Result<(), SettingsError> {
    let unreadable = |source| SettingsError::Unreadable { path: list.to_path_buf(), source };
    let mut reader: Box<dyn BufRead> = if list == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(list).map_err(unreadable)?))
    };
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(unreadable)? == 0 {
            return Ok(());
        }
        let entry = line.trim_ascii();
        if !entry.is_empty() && !entry.starts_with(b"#") {
            add(Path::new(OsStr::from_bytes(entry)), found)?;
        }
    }
}

fn walk(dir: &Path, out: &mut Builder) -> Result<(), SettingsError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|source| SettingsError::Unreadable { path: dir.to_path_buf(), source })?;
    for entry in entries {
        let entry = entry.map_err(|source| SettingsError::Unreadable { path: dir.to_path_buf(), source })?;
        let path = entry.path();
        let kind =
            entry.file_type().map_err(|source| SettingsError::Unreadable { path: path.clone(), source })?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "py") {
            out.push(&check_program(&path)?);
        }
    }
    Ok(())
}
