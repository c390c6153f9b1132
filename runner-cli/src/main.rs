//! `runner`: parse the command line, run, print any error on one line, exit with its code.

mod batch;
mod bench;
mod chart;
mod cli;
mod exit_code;
mod inputs;
mod report;
mod reporter;
mod settings;

fn main() {
    // A worker process is this same binary; it must not go through clap.
    if std::env::args_os().nth(1).is_some_and(|a| a == runner_embed::worker::WORKER_SUBCOMMAND) {
        runner_embed::worker::main();
    }
    let code = match cli::parse() {
        Ok(cli) => match cli.execute() {
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
