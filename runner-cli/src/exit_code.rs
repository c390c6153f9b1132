//! The exit codes of `runner`, in one place (documented in the README).

/// Every program passed (ignored failures count as passed).
pub const PASSED: i32 = 0;
/// At least one program failed.
pub const FAILED: i32 = 1;
/// A usage or set-up error: nothing was run.
pub const USAGE: i32 = 2;
/// Interrupted by Ctrl-C.
pub const INTERRUPTED: i32 = 130;
