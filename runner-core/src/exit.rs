//! How a process's wait status becomes the returncode Python's `subprocess` reports: the exit code for a
//! normal exit, the negative signal number for a death by signal.

/// Why a program stopped, as seen by whoever waited for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(code)`; only the low 8 bits survive, as the kernel keeps them.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

impl ExitStatus {
    /// Decodes a raw `waitpid` status word.
    pub fn from_wait_status(status: i32) -> Self {
        if libc::WIFSIGNALED(status) {
            ExitStatus::Signaled(libc::WTERMSIG(status))
        } else {
            ExitStatus::Exited(libc::WEXITSTATUS(status))
        }
    }

    /// The returncode `subprocess.Popen` would report: `code`, or `-signal`.
    pub fn returncode(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(sig) => -sig,
        }
    }
}

/// The name of a signal (`SIGSEGV`), or its number when the platform has no name for it.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_map_like_python_subprocess() {
        // Raw status words as the kernel encodes them: exit code in bits 8..16, signal in the low 7 bits.
        let cases = [(0, 0), (1 << 8, 1), (3 << 8, 3), (255 << 8, 255), (11, -11), (9, -9), (6 | 0x80, -6)];
        for (raw, want) in cases {
            assert_eq!(ExitStatus::from_wait_status(raw).returncode(), want, "raw status {raw:#x}");
        }
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(63), "signal 63");
    }
}
