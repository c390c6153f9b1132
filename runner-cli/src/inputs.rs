//! Collecting a batch's programs: files, directories (their `*.py`, recursively) and list files (one
//! path a line, `-` for stdin). Every input is checked before anything runs; the list is sorted and
//! free of duplicates, so `--workers 1` runs programs in a reproducible order. Paths are bytes, as
//! file names are: a name that is not UTF-8 is a program like any other.

use std::ffi::OsStr;
use std::io::BufRead;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::programs::{Builder, ProgramList};
use crate::settings::{absolute, check_program, SettingsError};

/// The programs named by `inputs` and `lists`, absolute, sorted, deduplicated.
pub fn collect(inputs: &[PathBuf], lists: &[PathBuf]) -> Result<ProgramList, SettingsError> {
    let mut programs = Builder::default();
    for input in inputs {
        add(input, &mut programs)?;
    }
    for list in lists {
        read_list(list, &mut programs)?;
    }
    Ok(programs.finish())
}

/// Adds a file, or a directory's programs.
fn add(input: &Path, programs: &mut Builder) -> Result<(), SettingsError> {
    let path = absolute(input);
    if path.is_dir() {
        walk(&path, programs)
    } else {
        programs.push(&check_program(&path)?);
        Ok(())
    }
}

/// Adds the programs a list names, one path a line (bytes, not necessarily UTF-8); blank lines and
/// `#` comments are skipped.
fn read_list(list: &Path, programs: &mut Builder) -> Result<(), SettingsError> {
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
            add(Path::new(OsStr::from_bytes(entry)), programs)?;
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
