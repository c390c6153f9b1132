//! Collecting a batch's programs: files, directories (their `*.py`, recursively) and list files (one
//! path a line, `-` for stdin). Every input is checked before anything runs; the list is sorted and
//! free of duplicates, so `--workers 1` runs programs in a reproducible order.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::settings::{absolute, check_program, SettingsError};

/// The programs named by `inputs` and `lists`, absolute, sorted, deduplicated.
pub fn collect(inputs: &[PathBuf], lists: &[PathBuf]) -> Result<Vec<PathBuf>, SettingsError> {
    let mut named: Vec<PathBuf> = inputs.to_vec();
    for list in lists {
        named.extend(read_list(list)?);
    }
    let mut programs = Vec::new();
    for input in &named {
        let path = absolute(input);
        if path.is_dir() {
            walk(&path, &mut programs)?;
        } else {
            programs.push(check_program(&path)?);
        }
    }
    programs.sort();
    programs.dedup();
    Ok(programs)
}

fn read_list(list: &Path) -> Result<Vec<PathBuf>, SettingsError> {
    let unreadable = |source| SettingsError::Unreadable { path: list.to_path_buf(), source };
    let reader: Box<dyn BufRead> = if list == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(list).map_err(unreadable)?))
    };
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line.map_err(unreadable)?;
        let line = line.trim();
        if !line.is_empty() && !line.starts_with('#') {
            out.push(PathBuf::from(line));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SettingsError> {
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
            out.push(check_program(&path)?);
        }
    }
    Ok(())
}
