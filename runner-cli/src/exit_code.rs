//! The exit codes of `runner`, in one place (documented in the README).

/// Every program passed (ignored failures count as passed).
pub const PASSED: i32 = 0;
/// At least one program failed.
pub const FAILED: i32 = 1;
/// A usage or set-up error: nothing was run.
pub const USAGE: i32 = 2;
/// The run did not complete through no fault of the programs: the engine failed while running (a
/// worker or the zygote died) or the results could not be written. Some programs have no result of
/// their own; those that have one are written.
pub const INCOMPLETE: i32 = 3;
/// Interrupted by Ctrl-C.
pub const INTERRUPTED: i32 = 130;
