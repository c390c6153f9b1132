//! Report files written whole: to a temporary file beside the target, then renamed over it, so
//! that a reader (a browser, CI) never sees half a page and a failed write leaves no cut file.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` (`-`: stdout) whole: written to a temporary file beside it and renamed,
/// so that a reader never sees half a page.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path == Path::new("-") {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        out.write_all(bytes)?;
        return out.flush();
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let cannot =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()));
    // As a file runner created itself would be (0666 less the umask), not a private 0600.
    let mode = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o666);
    let mut tmp = tempfile::Builder::new()
        .prefix(".runner-report-")
        .permissions(mode)
        .tempfile_in(dir)
        .map_err(cannot)?;
    tmp.write_all(bytes).map_err(cannot)?;
    tmp.persist(path).map_err(|e| cannot(e.error))?;
    Ok(())
}
