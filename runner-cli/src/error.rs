//! The errors that end a `runner` command, each with its exit code.

use crate::exit_code;
use crate::settings::SettingsError;

/// An error that ends the command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input: nothing was run.
    #[error(transparent)]
    Usage(#[from] SettingsError),
    /// The engine could not start (interpreter, worker, a preload): nothing was run.
    #[error(transparent)]
    Setup(#[from] runner_embed::EngineError),
    /// The engine failed while running the program (a worker or the zygote died): the program has
    /// no result of its own.
    #[error("the engine failed while running the program: {0}")]
    EngineFailed(runner_embed::EngineError),
    /// A program run through `runner serve` (`--server`) got no result: no server, or it failed.
    #[error(transparent)]
    Server(#[from] crate::serve_client::ClientError),
    /// `runner merge` could not merge (bad inputs, an unwritable output).
    #[error(transparent)]
    Merge(#[from] crate::merge::MergeError),
    /// Writing the report failed.
    #[error("writing output: {0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// Whether the reader of our stdout went away (`runner run x | head`): not an error of the run,
    /// so runner ends quietly with 0, as other Unix tools do.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) | CliError::Setup(_) => exit_code::USAGE,
            CliError::Server(e) if e.is_setup() => exit_code::USAGE,
            CliError::EngineFailed(_) | CliError::Server(_) | CliError::Io(_) => exit_code::INCOMPLETE,
            CliError::Merge(e) => e.exit_code(),
        }
    }
}
