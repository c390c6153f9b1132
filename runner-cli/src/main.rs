//! `runner`: parse the command line, dispatch to the subcommand, print any error on one line, exit
//! with its code. The modules layer without a circle: `cli` (clap types) and `settings` (flags to a
//! validated configuration) below the commands (`report` for run/validate, `batch` with its `shard`,
//! `bench`, `merge`, `report_command`, `serve`), which share `reporter`, `stats`, `campaign`, `junit`,
//! `html`, `markdown`, `text`, `chart` and `error`; `serve_protocol` is the server's wire format,
//! which `serve` and the client side of `run`/`validate --server` (`serve_client`) both speak.

mod batch;
mod bench;
mod campaign;
mod chart;
mod cli;
mod error;
mod exit_code;
mod html;
mod inputs;
mod junit;
mod known_issues;
mod markdown;
mod merge;
mod output_file;
mod programs;
mod report;
mod report_command;
mod reporter;
mod serve;
mod serve_client;
mod serve_protocol;
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
    // Python under ProgramRunner starts with descriptors 0 to 2 only: the runner's are not the programs'.
    runner_embed::keep_inherited_descriptors_from_programs();
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
    runner_embed::finish();
    std::process::exit(code);
}

/// Runs the chosen command; returns the process exit code.
fn execute(command: Command) -> Result<i32, CliError> {
    match command {
        Command::Run(cmd) => match &cmd.server {
            Some(socket) => {
                let plan = settings::remote(&cmd.program, cmd.args, &cmd.flags, Purpose::Run, socket)?;
                report::run_remote(plan)
            }
            None => {
                let plan = settings::single(&cmd.program, cmd.args, &cmd.flags, Purpose::Run)?;
                report::run(plan)
            }
        },
        Command::Validate(cmd) => match &cmd.server {
            Some(socket) => {
                let plan = settings::remote(&cmd.program, cmd.args, &cmd.flags, Purpose::Validate, socket)?;
                report::validate_remote(plan, cmd.json)
            }
            None => {
                let plan = settings::single(&cmd.program, cmd.args, &cmd.flags, Purpose::Validate)?;
                report::validate(plan, cmd.json)
            }
        },
        Command::Batch(cmd) => batch::execute(cmd),
        Command::Bench(cmd) => bench::execute(cmd),
        Command::Report(cmd) => report_command::execute(cmd),
        Command::Serve(cmd) => serve::execute(cmd),
        Command::Merge(cmd) => merge::execute(cmd),
    }
}
