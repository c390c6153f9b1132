//! The wire protocol of `runner serve`, version [`VERSION`]: newline-delimited JSON over a Unix stream
//! socket. The server speaks first, one [`Hello`] line per connection; then the client sends one
//! [`Request`] line (one program) and reads one [`Response`] line, and may send the next request on
//! the same connection. A connection carries one request at a time; clients run programs in parallel
//! by opening several connections. JSON escapes newlines inside strings, so a line is a message, and
//! a result's outputs travel whole. docs/architecture.md documents the same; the Python client
//! (`python/runner-client`) speaks it too.
//!
//! This module only defines the messages; the server is [`crate::serve`], the Rust client
//! [`crate::serve_client`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use runner_core::{EngineFailure, Mode, Purpose, RunResult};

/// The protocol's name, the first field of the server's hello.
pub const PROTOCOL: &str = "runner-serve";

/// The protocol version this runner speaks. A change that an older peer would misread gets a new
/// number; new optional fields do not (unknown fields are ignored on both sides).
pub const VERSION: u32 = 1;

/// What the server says as a connection opens.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hello {
    /// Always [`PROTOCOL`]: a peer that says otherwise is not a runner server.
    pub protocol: String,
    /// The protocol version the server speaks.
    pub version: u32,
    /// The server's runner version.
    pub runner: String,
    /// The mode the server's programs run in (after any fallback to `subprocess`).
    pub mode: Mode,
    /// The server's parallel workers.
    pub workers: usize,
    /// The server's process id.
    pub pid: u32,
}

/// Which of ProgramRunner's entry points a request follows: it decides the device candidates
/// (`validate` leaves GPU 0 to the parent when several GPUs are counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestPurpose {
    /// `run_program`, `runner run`.
    #[default]
    Run,
    /// `run_and_validate`, `runner validate`.
    Validate,
}

impl From<RequestPurpose> for Purpose {
    fn from(p: RequestPurpose) -> Purpose {
        match p {
            RequestPurpose::Run => Purpose::Run,
            RequestPurpose::Validate => Purpose::Validate,
        }
    }
}

impl From<Purpose> for RequestPurpose {
    fn from(p: Purpose) -> RequestPurpose {
        match p {
            Purpose::Run => RequestPurpose::Run,
            Purpose::Validate => RequestPurpose::Validate,
        }
    }
}

/// One program to run. Only `program` is required.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    /// The protocol version the client speaks; absent means [`VERSION`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Any JSON value, given back in the response.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub id: Value,
    /// The program's absolute path (`program`, and `program_bytes` for a path that is not UTF-8, as
    /// in results).
    #[serde(flatten, with = "runner_core::program_path")]
    pub program: PathBuf,
    /// `sys.argv[1:]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Variables set on top of the server's environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Decides the device candidates (default `run`).
    #[serde(default)]
    pub purpose: RequestPurpose,
    /// The client's `CUDA_VISIBLE_DEVICES` (absent or null: unset), which the device policy reads
    /// as ProgramRunner reads its own process's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_visible_devices: Option<String>,
    /// Seconds after which the program is killed (default: the server's `--timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Makes the server's device choice for this program reproducible (as `--seed` does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Request {
    /// A request for `program` with nothing else set.
    pub fn new(program: PathBuf) -> Request {
        Request {
            version: Some(VERSION),
            id: Value::Null,
            program,
            args: Vec::new(),
            env: BTreeMap::new(),
            purpose: RequestPurpose::Run,
            cuda_visible_devices: None,
            timeout: None,
            seed: None,
        }
    }
}

/// The answer to one request: `result` or `error`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Response {
    /// The request's `id`.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub id: Value,
    /// What the program did: the object `runner validate --json` prints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<RunResult>,
    /// Why the program has no result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ServeError>,
}

/// Why a request has no result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ServeError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// A one-line description.
    pub message: String,
    /// For [`ErrorKind::EngineFailed`]: the engine failure, as batch records carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_failure: Option<EngineFailure>,
}

/// The kinds of [`ServeError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The line is not a request this server can take (not JSON, no program, a relative path, a
    /// timeout out of range, another protocol version). Nothing was run.
    BadRequest,
    /// The engine could not run the program to a result (`engine_failure` says why).
    EngineFailed,
    /// The server is stopping (SIGTERM, Ctrl-C): the program was not run, or was killed when the
    /// interrupt's grace ended.
    ShuttingDown,
}

impl ServeError {
    /// An error without an engine failure.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ServeError {
        ServeError { kind, message: message.into(), engine_failure: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_request_is_a_program_path() {
        let r: Request = serde_json::from_str(r#"{"program": "/p.py"}"#).unwrap();
        assert_eq!(r.program, PathBuf::from("/p.py"));
        assert_eq!((r.purpose, r.version, r.id.is_null()), (RequestPurpose::Run, None, true));
        let unknown: Request = serde_json::from_str(r#"{"program": "/p.py", "later": 1}"#).unwrap();
        assert_eq!(unknown.program, PathBuf::from("/p.py"));
    }

    #[test]
    fn a_request_reads_back_as_written_with_a_path_that_is_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/\xff.py"));
        let mut r = Request::new(path.clone());
        r.id = serde_json::json!(7);
        r.args = vec!["a".into()];
        r.env.insert("K".into(), "V".into());
        r.purpose = RequestPurpose::Validate;
        r.cuda_visible_devices = Some("0,1".into());
        r.timeout = Some(2.5);
        let line = serde_json::to_string(&r).unwrap();
        assert!(line.contains(r#""program_bytes":[47,"#), "{line}");
        let back: Request = serde_json::from_str(&line).unwrap();
        assert_eq!(back.program, path);
        assert_eq!(
            (back.id, back.args, back.env, back.purpose, back.cuda_visible_devices, back.timeout),
            (r.id, r.args, r.env, r.purpose, r.cuda_visible_devices, r.timeout)
        );
    }

    #[test]
    fn errors_are_named_in_snake_case() {
        let e = ServeError::new(ErrorKind::ShuttingDown, "stopping");
        let v = serde_json::to_value(Response { id: Value::Null, result: None, error: Some(e) }).unwrap();
        assert_eq!(v, serde_json::json!({"error": {"kind": "shutting_down", "message": "stopping"}}));
    }
}
