//! The messages between the supervisor (the `runner` process), the zygote and the executors, and
//! their transport: one JSON document per datagram on a `SOCK_SEQPACKET` Unix socket, with file
//! descriptors (an executor's socket, a program's output pipes) passed alongside as `SCM_RIGHTS`.
//! Datagrams keep message boundaries, so there is no framing to get wrong, and a closed peer reads as
//! end of file.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Largest message accepted; programs' argument lists and environments fit easily.
const MAX_MESSAGE: usize = 4 << 20;

/// How the zygote must set up the interpreter; the first message it receives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setup {
    /// The interpreter programs must believe they run under (`sys.executable`, prefix discovery).
    pub executable: PathBuf,
    /// The command name python was started as (`sys.orig_argv[0]`): the `--python` the user gave.
    pub argv0: String,
    /// Modules to import before forking executors.
    pub preload: Vec<String>,
    /// Where the preloads' bytecode is kept when the interpreter would write none (RunConfig).
    pub bytecode_cache: Option<PathBuf>,
}

/// Zygote to supervisor.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FromZygote {
    /// The interpreter is up and the preloads are imported.
    Ready {
        /// `sys.version` of the embedded interpreter.
        version: String,
        /// Where the start-up went, for RUNNER_DEBUG: (phase, seconds), in order.
        phases: Vec<(String, f64)>,
    },
    /// Setting up the interpreter or a preload failed; the zygote exits after this.
    SetupFailed { message: String },
    /// An executor was forked; its socket travels with this message.
    Forked { token: u64, pid: i32 },
    /// Forking failed.
    ForkFailed { token: u64, message: String },
    /// An executor ended with this raw wait status.
    Exited {
        pid: i32,
        status: i32,
        /// Its parent (its nanny) was killed first, and the executor with it: the status is not the
        /// program's doing but its parent's end (a program that killed its parent).
        #[serde(default)]
        parent_killed: bool,
    },
    /// A bare fork, exit and wait took this long (the floor of fork mode).
    ForkedAndReaped { token: u64, seconds: f64 },
}

/// Supervisor to zygote.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ToZygote {
    /// Fork an executor; the reply carries `token`.
    Fork { token: u64 },
    /// Fork a child that exits at once, wait for it and say how long that took (a benchmark floor).
    ForkAndReap { token: u64 },
}

/// Supervisor to executor: run one program. The program's stdout and stderr pipes travel with it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunProgram {
    /// A random number for this program alone, which the executor's reply carries: a message on the
    /// executor's socket without it was written by something else (the program itself, which can
    /// write to every descriptor it has).
    pub token: u64,
    /// Absolute path of the program: a string when it is UTF-8, else its bytes ([`path_on_the_wire`]).
    #[serde(with = "path_on_the_wire")]
    pub path: PathBuf,
    /// `sys.argv[1:]`.
    pub args: Vec<String>,
    /// Variables set for this program on top of the inherited environment.
    pub env: Vec<(String, String)>,
    /// Exit the executor after the program (fork mode) instead of restoring state for the next one.
    pub last: bool,
}

/// [`RunProgram::path`] on the wire: a JSON string when the path is UTF-8 (as every message had it
/// before), else an array of its bytes, so that every file name can cross (JSON strings are text).
mod path_on_the_wire {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;

    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(path: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
        match path.to_str() {
            Some(text) => s.serialize_str(text),
            None => s.collect_seq(path.as_os_str().as_bytes()),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = PathBuf;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a path as a string or an array of bytes")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PathBuf, E> {
                Ok(PathBuf::from(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<PathBuf, A::Error> {
                let mut bytes = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                Ok(PathBuf::from(OsStr::from_bytes(&bytes)))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Executor to supervisor: how a program ended, or that the executor itself failed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum FromExecutor {
    /// The program ran to its end (in fork mode sent just before the executor exits).
    Done(ProgramDone),
    /// The executor's own code failed around the program; it exits after this. Not the program's
    /// result: the supervisor reports an engine failure.
    Failed {
        /// The program's [`RunProgram::token`] (0 before any program arrived).
        token: u64,
        /// What failed, with the traceback of runner's code when there is one.
        message: String,
    },
}

impl FromExecutor {
    /// The token of the program the message is about.
    pub fn token(&self) -> u64 {
        match self {
            FromExecutor::Done(done) => done.token,
            FromExecutor::Failed { token, .. } => *token,
        }
    }
}

/// How a program ended, as the executor saw it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProgramDone {
    /// The program's [`RunProgram::token`].
    pub token: u64,
    /// The program's returncode, as python would have exited.
    pub returncode: i32,
    /// Whether the executor restored its state and can run another program.
    pub reusable: bool,
    /// Why it cannot be reused, when it cannot (none in fork mode, where every executor runs one).
    pub reason: Option<RetireReason>,
    /// Seconds from the program's first line to the end of its finalisation.
    pub program_time: f64,
    /// With RUNNER_DEBUG: where the end of the program went (exit, teardown, restore).
    #[serde(default)]
    pub timings: Option<String>,
}

/// Why a warm executor cannot take another program (`executor.py` and `warm_state.py` name it with a
/// `Retire`). The executor then exits and the next program gets a fresh one: a retirement costs a
/// fork, never a wrong result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RetireReason {
    /// The program left threads of its own running (python waits for them at exit; the executor
    /// cannot go on beside them).
    ThreadsLeft,
    /// One of threading's exit hooks failed.
    ThreadingHookFailed,
    /// A standard stream of the program could not be flushed at its end: what it holds would reach
    /// the next program's output.
    StreamNotFlushed,
    /// The program's `__main__` (its module or globals) outlived its teardown; python's real shutdown
    /// ended the executor instead.
    MainOutlived {
        /// With RUNNER_DEBUG: the chain of referrers that keeps it.
        referrers: Option<String>,
    },
    /// The program left `gc.DEBUG_SAVEALL` on: only python's shutdown decides what is finalized.
    GcSaveAll,
    /// The program moved the executor's socket to another descriptor (which it could write on later).
    ChannelMoved,
    /// An entry of the warm-state registry could not put its state back.
    State {
        /// The entry's name (`warm_state.py`'s `REGISTRY`, docs/architecture.md).
        entry: String,
        /// What the entry says about it.
        message: String,
    },
}

impl std::fmt::Display for RetireReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetireReason::ThreadsLeft => f.write_str("the program left threads running"),
            RetireReason::ThreadingHookFailed => f.write_str("a threading exit hook failed"),
            RetireReason::StreamNotFlushed => {
                f.write_str("a standard stream of the program could not be flushed")
            }
            RetireReason::MainOutlived { referrers: None } => {
                f.write_str("the program's __main__ is still referenced after its end")
            }
            RetireReason::MainOutlived { referrers: Some(chain) } => {
                write!(f, "the program's __main__ is still referenced after its end ({chain})")
            }
            RetireReason::GcSaveAll => f.write_str(
                "the program left gc.DEBUG_SAVEALL on: python's shutdown decides what is finalized",
            ),
            RetireReason::ChannelMoved => f.write_str("the program moved the executor's socket"),
            RetireReason::State { entry, message } => write!(f, "{message} [{entry}]"),
        }
    }
}

/// A connected pair of sequenced-packet sockets, close-on-exec.
pub fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?)
}

/// Sends `msg`, with `fds` attached.
pub fn send<T: Serialize>(sock: BorrowedFd<'_>, msg: &T, fds: &[RawFd]) -> io::Result<()> {
    let bytes = serde_json::to_vec(msg).map_err(io::Error::other)?;
    let iov = [IoSlice::new(&bytes)];
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &rights };
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives one message and the descriptors attached to it; `Ok(None)` when the peer has closed.
pub fn recv<T: DeserializeOwned>(sock: BorrowedFd<'_>) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    recv_flags(sock, MsgFlags::empty())
}

/// Like [`recv`], but returns `Err(WouldBlock)` instead of waiting when nothing is there.
pub fn try_recv<T: DeserializeOwned>(sock: BorrowedFd<'_>) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    recv_flags(sock, MsgFlags::MSG_DONTWAIT)
}

fn recv_flags<T: DeserializeOwned>(
    sock: BorrowedFd<'_>,
    flags: MsgFlags,
) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    thread_local! {
        // One receive buffer per thread, allocated once: zeroing megabytes per message would cost
        // more than the message.
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; MAX_MESSAGE]);
    }
    BUF.with(|buf| recv_into(sock, flags, &mut buf.borrow_mut()))
}

fn recv_into<T: DeserializeOwned>(
    sock: BorrowedFd<'_>,
    flags: MsgFlags,
    buf: &mut [u8],
) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let (len, fds) = loop {
        let mut iov = [IoSliceMut::new(buf)];
        match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), flags | MsgFlags::MSG_CMSG_CLOEXEC)
        {
            Ok(msg) => {
                let mut fds = Vec::new();
                for cmsg in msg.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(raw) = cmsg {
                        // SAFETY: SCM_RIGHTS installed these fds in this process for us alone.
                        fds.extend(raw.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
                    }
                }
                break (msg.bytes, fds);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if len == 0 {
        return Ok(None);
    }
    let msg = serde_json::from_slice(&buf[..len]).map_err(io::Error::other)?;
    Ok(Some((msg, fds)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn messages_and_their_descriptors_cross_a_socket_pair_whole() {
        let (a, b) = pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let run =
            RunProgram { token: 7, path: "/p.py".into(), args: vec!["x".into()], env: vec![], last: false };
        send(a.as_fd(), &run, &[w.as_raw_fd()]).unwrap();
        drop(w);
        let (got, fds) = recv::<RunProgram>(b.as_fd()).unwrap().expect("a message");
        assert_eq!((got.path, got.args, got.last), (PathBuf::from("/p.py"), vec!["x".to_string()], false));
        assert_eq!(fds.len(), 1, "the pipe's write end travels with the message");
        nix::unistd::write(&fds[0], b"hi").unwrap();
        let mut buf = [0u8; 2];
        nix::unistd::read(r.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf, b"hi");
    }

    #[test]
    fn a_program_path_that_is_not_utf8_crosses_exactly() {
        use std::os::unix::ffi::OsStrExt;
        let (a, b) = pair().unwrap();
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(b"/d/caf\xe9.py"));
        for path in [path, PathBuf::from("/d/café.py")] {
            let run = RunProgram { token: 1, path: path.clone(), args: vec![], env: vec![], last: true };
            send(a.as_fd(), &run, &[]).unwrap();
            let (got, _) = recv::<RunProgram>(b.as_fd()).unwrap().expect("a message");
            assert_eq!(got.path, path);
        }
    }

    #[test]
    fn an_executor_failure_is_its_own_message_not_a_program_result() {
        let (a, b) = pair().unwrap();
        let done = ProgramDone {
            token: 9,
            returncode: 3,
            reusable: true,
            reason: None,
            program_time: 0.5,
            timings: None,
        };
        send(a.as_fd(), &FromExecutor::Done(done), &[]).unwrap();
        send(a.as_fd(), &FromExecutor::Failed { token: 9, message: "boom".into() }, &[]).unwrap();
        match recv::<FromExecutor>(b.as_fd()).unwrap() {
            Some((FromExecutor::Done(d), _)) => assert_eq!((d.token, d.returncode, d.reusable), (9, 3, true)),
            other => panic!("expected Done, got {other:?}"),
        }
        match recv::<FromExecutor>(b.as_fd()).unwrap() {
            Some((f @ FromExecutor::Failed { .. }, _)) => {
                assert_eq!(f.token(), 9);
                assert!(matches!(f, FromExecutor::Failed { message, .. } if message == "boom"));
            }
            other => panic!("expected Failed, got {other:?}"),
        }
        assert!(
            matches!(try_recv::<FromExecutor>(b.as_fd()), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
        );
        drop(a);
        assert!(recv::<FromExecutor>(b.as_fd()).unwrap().is_none(), "a closed peer reads as end of file");
    }

    #[test]
    fn a_message_of_another_type_is_an_error_not_a_misread() {
        let (a, b) = pair().unwrap();
        send(a.as_fd(), &ToZygote::Fork { token: 1 }, &[]).unwrap();
        assert!(recv::<FromExecutor>(b.as_fd()).is_err());
    }
}
