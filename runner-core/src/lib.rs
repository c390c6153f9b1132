//! The vocabulary shared by every part of runner: what a program to run is ([`ProgramSpec`]), what
//! running it produced ([`RunResult`], [`Outcome`]), which GPU it may use ([`device`]), how a wait status becomes a
//! Python-style returncode ([`exit`]), the validated configuration of a run ([`RunConfig`]) and which
//! shard of a campaign a run is and which programs belong to it ([`shard`]).
//!
//! This crate knows nothing about Python embedding, processes or the command line: the engines in
//! `runner-embed` and the front end in `runner-cli` both speak in these types.

pub mod classify;
pub mod config;
pub mod device;
pub mod exit;
pub mod outcome;
pub mod program_path;
pub mod result;
pub mod shard;
pub mod spec;
pub mod text;

pub use config::{Mode, RunConfig};
pub use device::{DevicePolicy, Purpose};
pub use outcome::{EngineFailure, EngineFailureKind, Outcome};
pub use result::{Attempt, RunResult, Truncated};
pub use spec::ProgramSpec;
