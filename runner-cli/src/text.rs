//! Formatting shared by the reports: durations, shell words, the reproduce command.

use std::fmt::Write as _;

use runner_core::{Mode, RunConfig};

/// A duration for people: `1.23 s`, `4.56 ms`, `789 µs`, `-` when unknown.
pub fn human_time(secs: f64) -> String {
    if !secs.is_finite() {
        "-".to_string()
    } else if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{:.0} µs", secs * 1e6)
    }
}

/// `s` as one word for a POSIX shell: as is when it is safe, else single-quoted.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A path as one word for a shell: [`shell_quote`] when it is UTF-8, else ANSI-C quoting
/// (`$'...'`, which bash, zsh and POSIX.1-2024 sh read) with each byte that is not printable ASCII as
/// `\xHH`, so that the word names the very file.
pub fn shell_quote_path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    if let Some(text) = path.to_str() {
        return shell_quote(text);
    }
    let mut word = String::from("$'");
    for &b in path.as_os_str().as_bytes() {
        match b {
            b'\\' | b'\'' => {
                word.push('\\');
                word.push(b as char);
            }
            0x20..=0x7e => word.push(b as char),
            _ => {
                let _ = write!(word, "\\x{b:02x}");
            }
        }
    }
    word.push('\'');
    word
}

/// `runner run` with what changes how a program runs under `config`, for the reproduce commands:
/// the mode (when not the default), the interpreter (when it is not the one runner would find
/// anyway, `default_python`), the preloads and the timeout. A program path follows.
pub fn reproduce_prefix(config: &RunConfig, default_python: Option<&std::path::Path>) -> String {
    let mut cmd = String::from("runner run");
    if config.mode != Mode::Warm {
        let _ = write!(cmd, " --mode {}", config.mode);
    }
    if default_python != Some(config.python.as_path()) {
        let _ = write!(cmd, " --python {}", shell_quote_path(&config.python));
    }
    if !config.preload.is_empty() {
        let _ = write!(cmd, " --preload {}", config.preload.join(","));
    }
    if let Some(t) = config.timeout {
        let _ = write!(cmd, " --timeout {}", t.as_secs_f64());
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("/a/b-c_d.py"), "/a/b-c_d.py");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn a_path_that_is_not_utf8_is_quoted_byte_for_byte() {
        use std::os::unix::ffi::OsStrExt;
        let odd = Path::new(std::ffi::OsStr::from_bytes(b"/d/caf\xe9 it's\\.py"));
        assert_eq!(shell_quote_path(odd), r"$'/d/caf\xe9 it\'s\\.py'");
        assert_eq!(shell_quote_path(Path::new("/a b.py")), "'/a b.py'");
    }

    #[test]
    fn the_reproduce_command_names_what_changes_how_a_program_runs() {
        let python = PathBuf::from("/venv/bin/python");
        let mut config = RunConfig::new(Mode::Warm, python.clone());
        assert_eq!(reproduce_prefix(&config, Some(&python)), "runner run");
        config.mode = Mode::Fork;
        config.preload = vec!["torch".into(), "numpy".into()];
        config.timeout = Some(Duration::from_millis(2500));
        assert_eq!(
            reproduce_prefix(&config, Some(Path::new("/usr/bin/python3"))),
            "runner run --mode fork --python /venv/bin/python --preload torch,numpy --timeout 2.5"
        );
    }

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(human_time(1.234), "1.23 s");
        assert_eq!(human_time(0.0045), "4.50 ms");
        assert_eq!(human_time(0.000_012), "12 µs");
        assert_eq!(human_time(f64::NAN), "-");
    }
}
