//! Turning captured bytes into the text torchfuzz's ProgramRunner returns.
//!
//! ProgramRunner calls `subprocess.run(..., text=True)`, so Python decodes each stream as UTF-8 and
//! translates universal newlines (`\r\n` and lone `\r` become `\n`). We decode with replacement
//! (U+FFFD for invalid bytes, as `errors="replace"`) instead of raising, and translate newlines the same way.

/// Decodes captured output the way `subprocess.run(text=True, errors="replace")` does.
pub fn decode_output(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if !text.contains('\r') {
        return text.into_owned();
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::decode_output;

    #[test]
    fn decodes_like_python_text_mode() {
        let cases: &[(&[u8], &str)] = &[
            (b"plain\n", "plain\n"),
            (b"dos\r\nline", "dos\nline"),
            (b"old\rmac\r", "old\nmac\n"),
            (b"\r\r\n", "\n\n"),
            (b"bad \xff byte", "bad \u{fffd} byte"),
            (b"cut \xe2\x82", "cut \u{fffd}"),
            ("é ✓".as_bytes(), "é ✓"),
        ];
        for (input, want) in cases {
            assert_eq!(decode_output(input), *want, "input {input:?}");
        }
    }
}
