//! How a program's path is written in results. A file name is bytes, and not every byte string is
//! UTF-8 text, which JSON needs: `program` is the path as text (each byte that is not UTF-8 shown as
//! U+FFFD), and, only when that text is not the path itself, `program_bytes` holds the path's exact
//! bytes as an array of integers (`bytes(record["program_bytes"])` in Python, which
//! `os.fsdecode` turns into the `__file__` python gives the program). Readers that need the exact
//! path (`--resume`) take `program_bytes` when it is there.
//!
//! Used as a flattened field (`#[serde(flatten, with = "runner_core::program_path")]`), so the two
//! keys sit in the record itself.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serializer};

/// The key of the path as text.
pub const PROGRAM: &str = "program";
/// The key of the exact bytes, present only for a path that is not UTF-8.
pub const PROGRAM_BYTES: &str = "program_bytes";

/// Writes `program` (and `program_bytes` when needed) into the enclosing record.
pub fn serialize<P: AsRef<Path>, S: Serializer>(path: &P, serializer: S) -> Result<S::Ok, S::Error> {
    let path = path.as_ref();
    let bytes = path.as_os_str().as_bytes();
    let text = String::from_utf8_lossy(bytes);
    let exact = matches!(text, Cow::Borrowed(_));
    let mut map = serializer.serialize_map(Some(if exact { 1 } else { 2 }))?;
    map.serialize_entry(PROGRAM, &text)?;
    if !exact {
        map.serialize_entry(PROGRAM_BYTES, bytes)?;
    }
    map.end()
}

/// The two keys as they are read back.
#[derive(Deserialize)]
struct Keys<'a> {
    #[serde(borrow)]
    program: Cow<'a, str>,
    #[serde(default)]
    program_bytes: Option<Vec<u8>>,
}

/// Reads the path back: `program_bytes` when present, else `program`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PathBuf, D::Error> {
    let keys = Keys::deserialize(deserializer)?;
    Ok(from_keys(&keys.program, keys.program_bytes.as_deref()))
}

/// The exact path of a record's `program` and `program_bytes` values.
pub fn from_keys(program: &str, program_bytes: Option<&[u8]>) -> PathBuf {
    match program_bytes {
        Some(bytes) => PathBuf::from(OsStr::from_bytes(bytes)),
        None => PathBuf::from(program),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Record {
        #[serde(flatten, with = "super")]
        program: PathBuf,
        index: usize,
    }

    #[test]
    fn a_utf8_path_is_one_key_and_reads_back() {
        let r = Record { program: "/a/é.py".into(), index: 3 };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"program":"/a/é.py","index":3}"#);
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), r);
    }

    #[test]
    fn a_path_that_is_not_utf8_gets_its_exact_bytes_too() {
        let program = PathBuf::from(OsStr::from_bytes(b"/a/\xff\xfe.py"));
        let r = Record { program: program.clone(), index: 0 };
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v[PROGRAM], "/a/\u{fffd}\u{fffd}.py");
        let bytes: Vec<u8> = serde_json::from_value(v[PROGRAM_BYTES].clone()).unwrap();
        assert_eq!(bytes, b"/a/\xff\xfe.py");
        let back: Record = serde_json::from_value(v).unwrap();
        assert_eq!(back.program, program, "the exact path comes back, not the text");
    }
}
