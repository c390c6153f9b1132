//! What `run` and `validate` print. `run` reproduces torchfuzz ProgramRunner.run_program's transcript
//! byte for byte (each captured string printed with Python's `print`, so each gets one newline after
//! it); `validate` prints the result object or a short readable report. With `--server` the program
//! runs in a `runner serve` server ([`crate::serve_client`]) and the same is printed.

use std::io::Write;
use std::path::Path;

use runner_core::text::decode_output;
use runner_core::{device, RunResult};
use runner_embed::Engines;

use crate::error::CliError;
use crate::exit_code;
use crate::serve_client::Client;
use crate::serve_protocol::Request;
use crate::settings::{Plan, RemotePlan};

/// Starts the engine the configuration asks for, before anything is printed, so that a set-up error
/// (no interpreter, a failing preload) is the only output.
fn start(plan: &Plan) -> Result<Engines, CliError> {
    let engines = Engines::prepare(plan.config.clone())?;
    if let Some(warning) = engines.fallback_warning() {
        eprintln!("runner: warning: {warning}");
    }
    Ok(engines)
}

/// Chooses the device (announcing it as the seed does) and runs the program with `engines`.
fn execute(mut plan: Plan, engines: &Engines, announce: &mut dyn Write) -> Result<RunResult, CliError> {
    if let Some(dev) = plan.devices.pick() {
        writeln!(announce, "Selected {}={dev}", device::CUDA_VISIBLE_DEVICES)?;
        announce.flush()?;
        plan.spec.env.push((device::CUDA_VISIBLE_DEVICES.to_string(), dev));
    }
    engines.engine().run(&plan.spec).map_err(|e| {
        if e.is_setup() {
            CliError::Setup(e)
        } else {
            CliError::EngineFailed(e)
        }
    })
}

/// Connects to the server before anything is printed, so that a missing or dead server is the only
/// output; then has it run the program, and announces the device it chose as the seed does.
fn connect(plan: &RemotePlan) -> Result<Client, CliError> {
    Ok(Client::connect(&plan.socket)?)
}

/// Has the server run the program; the device line comes once the server has said which device it
/// gave the program.
fn execute_remote(
    plan: RemotePlan,
    client: &mut Client,
    announce: &mut dyn Write,
) -> Result<RunResult, CliError> {
    let mut request = Request::new(plan.spec.path);
    request.args = plan.spec.args;
    request.purpose = plan.purpose.into();
    request.cuda_visible_devices = std::env::var(device::CUDA_VISIBLE_DEVICES).ok();
    request.timeout = plan.spec.timeout.map(|t| t.as_secs_f64());
    request.seed = plan.seed;
    let result = client.run(&request)?;
    if let Some(dev) = &result.device {
        writeln!(announce, "Selected {}={dev}", device::CUDA_VISIBLE_DEVICES)?;
        announce.flush()?;
    }
    Ok(result)
}

/// `runner run`: the run_program transcript; exit 1 when the program failed.
pub fn run(plan: Plan) -> Result<i32, CliError> {
    let engines = start(&plan)?;
    let program = plan.spec.path.clone();
    print_run(&program, |announce| execute(plan, &engines, announce))
}

/// `runner run --server`: the same transcript, the program run by the server.
pub fn run_remote(plan: RemotePlan) -> Result<i32, CliError> {
    let mut client = connect(&plan)?;
    let program = plan.spec.path.clone();
    print_run(&program, |announce| execute_remote(plan, &mut client, announce))
}

/// Prints the run_program transcript around `execute`, which runs the program (and announces the
/// device on the stream it is given).
fn print_run(
    program: &Path,
    execute: impl FnOnce(&mut dyn Write) -> Result<RunResult, CliError>,
) -> Result<i32, CliError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "Running: {}", program.display())?;
    out.flush()?;
    let result = execute(&mut out)?;
    write!(out, "{}", transcript(&result, || std::fs::read(program).map(|b| decode_output(&b))))?;
    out.flush()?;
    Ok(if result.success { exit_code::PASSED } else { exit_code::FAILED })
}

/// The part of the transcript after the device line.
fn transcript(result: &RunResult, source: impl FnOnce() -> std::io::Result<String>) -> String {
    if result.success {
        format!("=== Program Output ===\n{}\n{}\n", result.stdout, result.stderr)
    } else {
        let source = source().unwrap_or_else(|e| format!("<cannot read program source: {e}>"));
        format!(
            "=== Program Output (Failure) ===\n{}\n{}\n{}\n=== Program Source ===\n{}\n{}\nProgram exited with code: {}\n",
            result.stdout,
            result.stderr,
            "=".repeat(31),
            source,
            "=".repeat(22),
            result.returncode
        )
    }
}

/// `runner validate`: the result as one JSON object (`--json`, exit 0), or a readable report (exit 1
/// when the program failed).
pub fn validate(plan: Plan, json: bool) -> Result<i32, CliError> {
    let engines = start(&plan)?;
    print_validate(json, |announce| execute(plan, &engines, announce))
}

/// `runner validate --server`: the same, the program run by the server.
pub fn validate_remote(plan: RemotePlan, json: bool) -> Result<i32, CliError> {
    let mut client = connect(&plan)?;
    print_validate(json, |announce| execute_remote(plan, &mut client, announce))
}

/// Prints what `validate` prints of the result of `execute`.
fn print_validate(
    json: bool,
    execute: impl FnOnce(&mut dyn Write) -> Result<RunResult, CliError>,
) -> Result<i32, CliError> {
    let stdout = std::io::stdout();
    if json {
        // stdout carries exactly one JSON object, so the device line goes to stderr.
        let result = execute(&mut std::io::stderr())?;
        let mut out = stdout.lock();
        serde_json::to_writer(&mut out, &result).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(exit_code::PASSED);
    }
    let mut out = stdout.lock();
    let result = execute(&mut out)?;
    let verdict = if result.success { "PASS" } else { "FAIL" };
    writeln!(
        out,
        "{verdict} {} ({}, {:.3}s, {})",
        result.program.display(),
        result.outcome(),
        result.duration,
        result.mode
    )?;
    for (name, text, cut) in [
        ("stdout", &result.stdout, result.truncated.stdout),
        ("stderr", &result.stderr, result.truncated.stderr),
    ] {
        if !text.is_empty() {
            writeln!(out, "--- {name}{} ---", if cut { " (truncated)" } else { "" })?;
            write!(out, "{text}")?;
            if !text.ends_with('\n') {
                writeln!(out)?;
            }
        }
    }
    if result.leaked_pipes {
        writeln!(
            out,
            "note: processes the program started still held its output after it exited; they were killed"
        )?;
    }
    Ok(if result.success { exit_code::PASSED } else { exit_code::FAILED })
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_core::{Mode, Truncated};

    fn result(rc: i32, out: &str, err: &str) -> RunResult {
        RunResult {
            success: rc == 0,
            stdout: out.into(),
            stderr: err.into(),
            returncode: rc,
            program: "/p.py".into(),
            mode: Mode::Subprocess,
            device: None,
            duration: 0.0,
            timed_out: false,
            truncated: Truncated::default(),
            leaked_pipes: false,
            attempts: Vec::new(),
            program_time: None,
        }
    }

    #[test]
    fn success_transcript_prints_each_stream_with_a_newline() {
        assert_eq!(transcript(&result(0, "hi\n", ""), || unreachable!()), "=== Program Output ===\nhi\n\n\n");
    }

    #[test]
    fn failure_transcript_has_the_source_and_the_code() {
        let t = transcript(&result(3, "", "boom\n"), || Ok("src\n".into()));
        assert_eq!(
            t,
            "=== Program Output (Failure) ===\n\nboom\n\n===============================\n=== Program Source ===\nsrc\n\n======================\nProgram exited with code: 3\n"
        );
    }
}
