//! The Rust client of `runner serve`, for `runner run --server` and `runner validate --server`:
//! connect (a missing or dead server is an error at once, never a wait), check the server's hello,
//! send one request and read its response ([`crate::serve_protocol`]). What is printed is
//! [`crate::report`]'s business.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runner_core::RunResult;

use crate::serve_protocol::{ErrorKind, Hello, Request, Response, PROTOCOL, VERSION};

/// How long a server that accepted the connection may take to say hello. Its listener answers at
/// once; a server that does not is stopped or stuck, and the client says so instead of hanging.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a program run through a server has no result.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No server listens on the socket (no such file, connection refused, ...).
    #[error("cannot connect to the runner server at {}: {source} (is `runner serve --socket {}` running?)", socket.display(), socket.display())]
    Connect {
        /// The socket.
        socket: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Something listens on the socket, but not a runner server this client can talk to.
    #[error("{} is not a runner server this runner can use: {why}", socket.display())]
    NotAServer {
        /// The socket.
        socket: PathBuf,
        /// What was wrong with its hello.
        why: String,
    },
    /// The server went away before answering (it stopped or died).
    #[error("the runner server at {} closed the connection before answering (it stopped or died)", socket.display())]
    Closed {
        /// The socket.
        socket: PathBuf,
    },
    /// Reading or writing the socket failed, or the answer was not a response.
    #[error("talking to the runner server at {}: {why}", socket.display())]
    Protocol {
        /// The socket.
        socket: PathBuf,
        /// What failed.
        why: String,
    },
    /// The server answered with an error: the program has no result.
    #[error("the runner server at {} gave no result: {error}", socket.display())]
    Refused {
        /// The socket.
        socket: PathBuf,
        /// The server's error.
        error: crate::serve_protocol::ServeError,
    },
}

impl ClientError {
    /// Whether nothing was run because there is no usable server (a set-up error, exit 2), rather
    /// than a run that did not complete (exit 3).
    pub fn is_setup(&self) -> bool {
        match self {
            ClientError::Connect { .. } | ClientError::NotAServer { .. } => true,
            ClientError::Refused { error, .. } => error.kind == ErrorKind::BadRequest,
            ClientError::Closed { .. } | ClientError::Protocol { .. } => false,
        }
    }
}

/// A connection to a server.
pub struct Client {
    socket: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the server on `socket` and checks its hello.
    pub fn connect(socket: &Path) -> Result<Client, ClientError> {
        let socket = socket.to_path_buf();
        let stream = UnixStream::connect(&socket)
            .map_err(|source| ClientError::Connect { socket: socket.clone(), source })?;
        let protocol = |why: String| ClientError::Protocol { socket: socket.clone(), why };
        let writer = stream.try_clone().map_err(|e| protocol(e.to_string()))?;
        stream.set_read_timeout(Some(HELLO_TIMEOUT)).map_err(|e| protocol(e.to_string()))?;
        let mut reader = BufReader::new(stream);
        let not_a_server = |why: String| ClientError::NotAServer { socket: socket.clone(), why };
        let line = match read_line(&mut reader) {
            Ok(Some(line)) => line,
            Ok(None) => return Err(not_a_server("it closed the connection without a hello".into())),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(not_a_server(format!("no hello within {}s", HELLO_TIMEOUT.as_secs())))
            }
            Err(e) => return Err(protocol(e.to_string())),
        };
        let hello: Hello =
            serde_json::from_slice(&line).map_err(|e| not_a_server(format!("its hello is not one: {e}")))?;
        if hello.protocol != PROTOCOL {
            return Err(not_a_server(format!("it speaks {:?}, not {PROTOCOL:?}", hello.protocol)));
        }
        if hello.version != VERSION {
            return Err(not_a_server(format!(
                "it speaks version {} of the protocol, this runner version {VERSION}",
                hello.version
            )));
        }
        // A program may run for as long as it likes (no --timeout): from now on, no limit.
        reader.get_ref().set_read_timeout(None).map_err(|e| protocol(e.to_string()))?;
        Ok(Client { socket, reader, writer })
    }

    /// Has the server run `request`'s program and returns its result.
    pub fn run(&mut self, request: &Request) -> Result<RunResult, ClientError> {
        let protocol = |why: String| ClientError::Protocol { socket: self.socket.clone(), why };
        let mut line = serde_json::to_vec(request).map_err(|e| protocol(e.to_string()))?;
        line.push(b'\n');
        if let Err(e) = self.writer.write_all(&line) {
            return Err(if e.kind() == std::io::ErrorKind::BrokenPipe {
                ClientError::Closed { socket: self.socket.clone() }
            } else {
                protocol(e.to_string())
            });
        }
        let answer = match read_line(&mut self.reader) {
            Ok(Some(answer)) => answer,
            Ok(None) => return Err(ClientError::Closed { socket: self.socket.clone() }),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Err(ClientError::Closed { socket: self.socket.clone() })
            }
            Err(e) => return Err(protocol(e.to_string())),
        };
        let response: Response =
            serde_json::from_slice(&answer).map_err(|e| protocol(format!("not a response: {e}")))?;
        match (response.result, response.error) {
            (Some(result), None) => Ok(result),
            (_, Some(error)) => Err(ClientError::Refused { socket: self.socket.clone(), error }),
            (None, None) => Err(protocol("a response with neither a result nor an error".into())),
        }
    }
}

/// One line without its newline; `None` at the end of the stream (a line cut by the end counts as
/// the end: the server died while writing it).
fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Ok(None);
    }
    Ok(Some(line))
}
