//! `runner`: parse the command line, dispatch to the subcommand, print any error on one line, exit
//! with its code. The modules layer without a circle: `cli` (clap types) and `settings` (flags to a
//! validated configuration) below the commands (`report` for run/validate, `batch` with its `shard`,
//! `bench`, `merge`), which share `reporter`, `stats`, `junit`, `text`, `chart` and `error`.

mod batch;
mod bench;
mod chart;
mod cli;
mod error;
mod exit_code;
mod inputs;
mod junit;
mod merge;
mod programs;
mod report;
mod reporter;
mod settings;
mod shard;
mod stats;
mod text;

use cli::Command;
use error::CliError;
use runner_core::Purpose;

fn main() {
    // A worker process, and a nanny of the subprocess engine, are this same binary; they must not go
    // through clap.
    match std::env::args_os().nth(1) {
        Some(a) if a == runner_embed::worker::WORKER_SUBCOMMAND => runner_embed::worker::main(),
        Some(a) if a == runner_embed::nanny::NANNY_SUBCOMMAND => runner_embed::nanny::main(),
        _ => {}
    }
    // Before anything installs a handler (Ctrl-C): what programs must start with.
    runner_embed::record_inherited_signals();
    let code = match cli::parse() {
        Ok(cli) => match execute(cli.command) {
            Ok(code) => code,
            Err(err) if err.is_broken_pipe() => exit_code::PASSED,
            Err(err) => {
                eprintln!("runner: error: {err:#}");
                err.exit_code()
            }
        },
        Err(code) => code,
    };
    std::process::exit(code);
}

/// Runs the chosen command; returns the process exit code.
fn execute(command: Command) -> Result<i32, CliError> {
    match command {
        Command::Run(cmd) => {
            let plan = settings::single(&cmd.program, cmd.args, &cmd.flags, Purpose::Run)?;
            report::run(plan)
        }
        Command::Validate(cmd) => {
            let plan = settings::single(&cmd.program, cmd.args, &cmd.flags, Purpose::Validate)?;
            report::validate(plan, cmd.json)
        }
        Command::Batch(cmd) => batch::execute(cmd),
        Command::Bench(cmd) => bench::execute(cmd),
        Command::Merge(cmd) => merge::execute(cmd),
    }
}
