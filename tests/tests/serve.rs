//! End-to-end tests of `runner serve` and its clients: `runner run --server`, `runner validate
//! --server` and the Python package `runner_client` (python/runner-client, used from its source
//! with PYTHONPATH, run by the test Python). Several clients at once must get what `python
//! /abs/prog.py` gives (passing, failing, crashing and timed-out programs) in warm and subprocess
//! mode; the clients must print what `runner run` / ProgramRunner print; a SIGTERM must answer every
//! client and leave no process behind; the socket is claimed, refused and removed as documented.
//!
//! Every wait is bounded by [`HANG_LIMIT`] and waits on an event: the server's ready line, a
//! program's announcement on a FIFO, a client's answer. Nothing sleeps, nothing is timed.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use runner_tests::{
    assert_all_die, describe, finish_within, fixture, json, python_reference, returncode, runner, runner_bin,
    test_python, text, wait_within, HANG_LIMIT,
};
use serde_json::Value;

runner_tests::per_mode!(warm, subprocess; {
    several_clients_at_once_get_python_s_results,
    run_and_validate_through_the_server_print_what_they_print_without_it,
    the_python_client_returns_python_s_result_and_prints_run_program_s_transcript,
});

/// `--timeout` of the servers whose corpus has a program that never ends.
const TIMEOUT: &str = "2";

/// A `runner serve` started by a test, killed if the test fails before it stops it.
struct Server {
    child: Option<Child>,
    pid: u32,
    socket: PathBuf,
    /// Where the socket and the programs' state live.
    dir: tempfile::TempDir,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Server {
    /// `runner serve --socket DIR/socket --mode MODE EXTRA` (two workers unless EXTRA says `-j`),
    /// once it says it listens.
    fn start(mode: &str, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("socket");
        Server::start_at(dir, socket, mode, extra)
    }

    fn start_at(dir: tempfile::TempDir, socket: PathBuf, mode: &str, extra: &[&str]) -> Server {
        let workers = match extra.iter().position(|a| *a == "-j") {
            Some(i) => extra[i + 1],
            None => "2",
        };
        let mut cmd = runner();
        cmd.args(["serve", "--mode", mode, "--socket"]).arg(&socket).args(extra);
        if !extra.contains(&"-j") {
            cmd.args(["-j", workers]);
        }
        let mut child = cmd
            .env("SERVE_TEST_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start runner serve");
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            text(&s)
        });
        let out = child.stdout.take().unwrap();
        let (tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let pid = child.id();
        let mut server = Server { child: Some(child), pid, socket, dir, stderr: Some(stderr) };
        let line = ready.recv_timeout(HANG_LIMIT).unwrap_or_default();
        if !line.starts_with("runner serve: listening on ") {
            server.kill();
            panic!("runner serve {mode} {extra:?} did not start: {line:?}; stderr: {}", server.stderr());
        }
        let want = format!(
            "runner serve: listening on {} ({mode} mode, {workers} workers)\n",
            server.socket.display()
        );
        assert_eq!(line, want, "the ready line");
        server
    }

    /// `runner ARGS... --server SOCKET`.
    fn client(&self, args: &[&str]) -> Command {
        let mut cmd = runner();
        cmd.args(args).arg("--server").arg(&self.socket);
        cmd
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill").arg(format!("-{sig}")).arg(self.pid.to_string()).status().unwrap();
        assert!(status.success(), "kill -{sig} the server");
    }

    /// SIGTERM, then its exit status, once it has exited.
    fn stop(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait()
    }

    /// Its exit status, once it has exited (killed, and the test failed, after [`HANG_LIMIT`]).
    fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is waited for once");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(HANG_LIMIT) {
            Ok(Ok(status)) => status,
            _ => {
                let _ = Command::new("kill").args(["-KILL", &self.pid.to_string()]).status();
                panic!("the server did not exit within {HANG_LIMIT:?}");
            }
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's stderr, once it has exited.
    fn stderr(&mut self) -> String {
        self.stderr.take().map(|h| h.join().unwrap()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a client to its end, bounded.
fn finish(cmd: &mut Command) -> Output {
    finish_within(cmd, None, HANG_LIMIT)
}

/// The programs a server's clients run at once: (fixture, arguments). Their results are python's.
const PROGRAMS: &[(&str, &[&str])] = &[
    ("pass.py", &[]),
    ("exception.py", &[]),
    ("exit_code.py", &[]),
    ("sigsegv.py", &[]),
    ("abort.py", &[]),
    ("unicode_and_invalid_utf8.py", &[]),
    ("reads_stdin.py", &[]),
    ("args.py", &["one", "two words"]),
];

/// Checks a result object against python's own run of the program.
fn assert_python_s(v: &Value, program: &Path, args: &[&str], mode: &str) {
    let want = python_reference(program, args);
    let ctx = format!("{} through a {mode} server", program.display());
    assert_eq!(v["stdout"], text(&want.stdout), "{ctx}: stdout");
    assert_eq!(v["stderr"], text(&want.stderr), "{ctx}: stderr");
    assert_eq!(v["returncode"], returncode(&want), "{ctx}: returncode");
    assert_eq!(v["success"], returncode(&want) == 0, "{ctx}: success");
    assert_eq!(v["program"], program.to_str().unwrap(), "{ctx}: program");
    assert_eq!(v["mode"], mode, "{ctx}: mode");
    assert_eq!(v["timed_out"], false, "{ctx}: timed_out");
}

/// Starts `cmd` now; its output later.
fn spawn(cmd: &mut Command) -> Child {
    use std::os::unix::process::CommandExt;
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).spawn().expect("start a client")
}

fn several_clients_at_once_get_python_s_results(mode: &str) {
    let server = Server::start(mode, &["--timeout", TIMEOUT]);
    // Every client at once, the one that never ends among them: the others are not held up by it
    // beyond the worker it takes.
    let hang = fixture("sleep_forever.py");
    let mut clients: Vec<(PathBuf, &[&str], Child)> = PROGRAMS
        .iter()
        .map(|(name, args)| {
            let program = fixture(name);
            let child = spawn(server.client(&["validate", "--json"]).arg(&program).arg("--").args(*args));
            (program, *args, child)
        })
        .collect();
    clients.push((hang.clone(), &[], spawn(server.client(&["validate", "--json"]).arg(&hang))));
    for (program, args, child) in clients {
        let out = wait_within(child, HANG_LIMIT, &format!("validate --server {}", program.display()));
        assert_eq!(out.status.code(), Some(0), "{}: {}", program.display(), describe(&out));
        let v = json(&out);
        if program == hang {
            let ctx = format!("the program that never ends, through a {mode} server");
            assert_eq!((&v["timed_out"], &v["returncode"]), (&Value::from(true), &Value::from(-9)), "{ctx}");
            assert_eq!(v["stdout"], "started\n", "{ctx}: what it printed before the kill");
        } else {
            assert_python_s(&v, &program, args, mode);
        }
    }
}

fn run_and_validate_through_the_server_print_what_they_print_without_it(mode: &str) {
    let server = Server::start(mode, &[]);
    for (name, args) in PROGRAMS {
        let program = fixture(name);
        for command in [&["run"][..], &["validate"], &["validate", "--json"]] {
            let local =
                finish(runner().args(command).args(["--mode", mode]).arg(&program).arg("--").args(*args));
            let served = finish(server.client(command).arg(&program).arg("--").args(*args));
            let ctx = format!("runner {} {name} with and without --server ({mode})", command.join(" "));
            assert_eq!(served.status.code(), local.status.code(), "{ctx}: exit code; {}", describe(&served));
            assert_eq!(text(&served.stderr), text(&local.stderr), "{ctx}: stderr");
            if command.contains(&"--json") {
                let (mut s, mut l) = (json(&served), json(&local));
                for v in [&mut s, &mut l] {
                    // How long it took, and whether a warm failure was confirmed (the server's
                    // executor had run other programs), are the run's own.
                    let o = v.as_object_mut().unwrap();
                    for key in ["duration", "program_time", "confirmed"] {
                        o.remove(key);
                    }
                }
                assert_eq!(s, l, "{ctx}: the result object");
            } else if command == ["validate"] {
                // The verdict line has the duration; the rest is the same.
                let cut = |o: &Output| {
                    let t = text(&o.stdout);
                    let (first, rest) = t.split_once('\n').unwrap_or((&t, ""));
                    (first.split(", ").next().unwrap_or_default().to_string(), rest.to_string())
                };
                assert_eq!(cut(&served), cut(&local), "{ctx}: the report");
            } else {
                assert_eq!(text(&served.stdout), text(&local.stdout), "{ctx}: the transcript");
            }
        }
    }
}

/// The Python client from its source, run by the test Python.
fn python_client() -> Command {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/runner-client/src");
    let mut cmd = Command::new(test_python());
    cmd.env("PYTHONPATH", src)
        .env("RUNNER_BIN", runner_bin())
        .env("RUNNER_PYTHON", test_python())
        .env_remove("RUNNER_SERVER")
        .env_remove("RUNNER_SERVE_ARGS")
        .env_remove("CUDA_VISIBLE_DEVICES")
        .env_remove("VIRTUAL_ENV")
        .stdin(Stdio::null());
    cmd
}

/// `python -c SCRIPT ARGS...` with the client importable.
fn python_script(script: &str, args: &[&str]) -> Command {
    let mut cmd = python_client();
    cmd.arg("-c").arg(script).args(args);
    cmd
}

const RUN_AND_VALIDATE: &str = "import json, sys\n\
    from runner_client import ProgramRunner\n\
    print(json.dumps(ProgramRunner().run_and_validate(sys.argv[1])))";

const RUN_PROGRAM: &str = "import sys\n\
    from runner_client import ProgramRunner\n\
    ok = ProgramRunner().run_program(sys.argv[1])\n\
    print('returned', ok)";

fn the_python_client_returns_python_s_result_and_prints_run_program_s_transcript(mode: &str) {
    let server = Server::start(mode, &[]);
    for (name, args) in PROGRAMS.iter().filter(|(_, args)| args.is_empty()) {
        let program = fixture(name);
        let ctx = format!("runner_client with a {mode} server, {name}");
        let out = finish(
            python_script(RUN_AND_VALIDATE, &[program.to_str().unwrap()])
                .env("RUNNER_SERVER", &server.socket),
        );
        assert_eq!(out.status.code(), Some(0), "{ctx}: {}", describe(&out));
        let v = json(&out);
        let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["returncode", "stderr", "stdout", "success"].into(),
            "{ctx}: run_and_validate's keys"
        );
        let want = python_reference(&program, args);
        assert_eq!(
            (&v["stdout"], &v["stderr"], &v["returncode"], &v["success"]),
            (
                &Value::from(text(&want.stdout)),
                &Value::from(text(&want.stderr)),
                &Value::from(returncode(&want)),
                &Value::from(returncode(&want) == 0)
            ),
            "{ctx}: run_and_validate"
        );

        let out = finish(
            python_script(RUN_PROGRAM, &[program.to_str().unwrap()]).env("RUNNER_SERVER", &server.socket),
        );
        let local = finish(runner().args(["run", "--mode", mode]).arg(&program));
        let mut want = text(&local.stdout);
        if local.status.code() == Some(0) {
            want.push_str("returned True\n");
        }
        assert_eq!(text(&out.stdout), want, "{ctx}: run_program's transcript, as runner run prints it");
        assert_eq!(out.status.code(), local.status.code(), "{ctx}: exit status (sys.exit(1) on failure)");
        assert_eq!(text(&out.stderr), "", "{ctx}: stderr");
    }
}

#[test]
fn the_python_client_starts_a_server_when_given_none_and_stops_it_at_exit() {
    let program = fixture("exit_code.py");
    let script = "import json, os, sys\n\
        import runner_client._server as s\n\
        from runner_client import ProgramRunner\n\
        r = ProgramRunner()\n\
        server = s.shared_server()\n\
        print(json.dumps({'pid': server._proc.pid, 'socket': server.socket, 'env': os.environ['RUNNER_SERVER'],\n\
                          'result': r.run_and_validate(sys.argv[1])}))";
    let out = finish(python_script(script, &[program.to_str().unwrap()]).env("RUNNER_SERVE_ARGS", "-j 1"));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v = json(&out);
    let want = python_reference(&program, &[]);
    assert_eq!(v["result"]["returncode"], returncode(&want), "{v}");
    assert_eq!(v["result"]["stdout"], text(&want.stdout), "{v}");
    assert_eq!(v["env"], v["socket"], "RUNNER_SERVER names the started server for later processes");
    assert_eq!(text(&out.stderr), "", "the started server is quiet");
    let socket = PathBuf::from(v["socket"].as_str().unwrap());
    assert_all_die(&[v["pid"].as_u64().unwrap() as u32], "the server runner_client started");
    assert!(!socket.parent().unwrap().exists(), "the started server's directory is removed at exit");
}

#[test]
fn the_python_client_names_a_dead_server_in_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none");
    let script = "import sys\n\
        from runner_client import ProgramRunner, ServerError\n\
        try:\n    ProgramRunner(sys.argv[1]).run_and_validate(sys.argv[2])\n\
        except ServerError as e:\n    print(e.kind); print(e)";
    let pass = fixture("pass.py");
    let out = finish(&mut python_script(script, &[socket.to_str().unwrap(), pass.to_str().unwrap()]));
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let mut lines = said.lines();
    assert_eq!(lines.next(), Some("connect"), "{said}");
    let message = lines.next().unwrap_or_default();
    assert!(message.contains(socket.to_str().unwrap()) && message.contains("runner serve"), "{message}");
}

/// What `runner run|validate --server` must print for a server that is not there: one line on stderr,
/// nothing on stdout, exit 2, at once (a hang is caught by [`finish`]).
fn assert_no_server_error(out: &Output, socket: &Path, ctx: &str) {
    assert_eq!(out.status.code(), Some(2), "{ctx}: {}", describe(out));
    assert_eq!(text(&out.stdout), "", "{ctx}: stdout");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{ctx}: one line on stderr: {err:?}");
    assert!(
        err.starts_with("runner: error: cannot connect to the runner server at ")
            && err.contains(socket.to_str().unwrap()),
        "{ctx}: {err:?}"
    );
}

#[test]
fn a_missing_or_dead_server_is_one_line_and_exit_2_and_a_stale_socket_is_replaced() {
    let mut server = Server::start("warm", &[]);
    let socket = server.socket.clone();
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the socket is the user's alone");
    // A live server's socket is refused (before the refused server touches its -o file), and that
    // server goes on serving.
    let records = server.dir.path().join("records.jsonl");
    std::fs::write(&records, "kept\n").unwrap();
    let out = finish(runner().args(["serve", "--socket"]).arg(&socket).arg("-o").arg(&records));
    assert_eq!(out.status.code(), Some(2), "a second server on a live socket: {}", describe(&out));
    let err = text(&out.stderr);
    assert!(err.lines().count() == 1 && err.contains("already listening"), "{err:?}");
    assert_eq!(std::fs::read_to_string(&records).unwrap(), "kept\n", "the refused server's -o file");
    let pass = fixture("pass.py");
    let out = finish(server.client(&["validate", "--json"]).arg(&pass));
    assert_python_s(&json(&out), &pass, &[], "warm");

    // Killed outright, the server leaves its socket behind: a stale one.
    server.signal("KILL");
    server.wait();
    assert_all_die(&[server.pid], "the killed server");
    assert!(std::fs::symlink_metadata(&socket).unwrap().file_type().is_socket(), "the stale socket stays");
    for command in [&["run"][..], &["validate"], &["validate", "--json"]] {
        let out = finish(runner().args(command).arg("--server").arg(&socket).arg(&pass));
        assert_no_server_error(&out, &socket, &format!("{command:?} --server a dead server's socket"));
    }
    let missing = server.dir.path().join("missing");
    assert_no_server_error(
        &finish(runner().args(["run", "--server"]).arg(&missing).arg(&pass)),
        &missing,
        "run --server a socket that does not exist",
    );

    // A new server replaces the stale socket.
    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().unwrap());
    let mut again = Server::start_at(dir, socket.clone(), "warm", &[]);
    let out = finish(again.client(&["validate", "--json"]).arg(&pass));
    assert_python_s(&json(&out), &pass, &[], "warm");
    assert_eq!(again.stop().code(), Some(130), "a server ends interrupted");
    assert!(!socket.exists(), "the socket is removed at exit");

    // A file that is not a socket is never replaced.
    std::fs::write(&socket, "mine").unwrap();
    let out = finish(runner().args(["serve", "--socket"]).arg(&socket));
    assert_eq!(out.status.code(), Some(2), "a server on a regular file: {}", describe(&out));
    assert!(text(&out.stderr).contains("not a socket"), "{}", describe(&out));
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "mine", "the file is untouched");
}

/// A program that says it runs (its pid and parent's pid, on the FIFO `$SERVE_TEST_DIR/started`),
/// then sleeps until it is killed.
const SLEEPER: &str = "import os, time\n\
    line = f'{os.getpid()} {os.getppid()}\\n'\n\
    with open(os.path.join(os.environ['SERVE_TEST_DIR'], 'started'), 'w') as fifo:\n    fifo.write(line)\n\
    while True:\n    time.sleep(3600)\n";

/// A program that says it runs, then waits for the test to write `$SERVE_TEST_DIR/go` (a FIFO)
/// and prints `done`.
const WAITER: &str = "import os\n\
    state = os.environ['SERVE_TEST_DIR']\n\
    line = f'{os.getpid()} {os.getppid()}\\n'\n\
    with open(os.path.join(state, 'started'), 'w') as fifo:\n    fifo.write(line)\n\
    with open(os.path.join(state, 'go')) as go:\n    go.read()\n\
    print('done')\n";

/// The announcements of programs on the FIFO `started` under `dir`, as they come.
struct Announcements {
    lines: mpsc::Receiver<(u32, u32)>,
    /// Our own write end, so the reader never sees an end of file between two programs.
    _keep: std::fs::File,
}

impl Announcements {
    fn open(dir: &Path) -> Announcements {
        for fifo in ["started", "go"] {
            let made = Command::new("mkfifo").arg(dir.join(fifo)).status().expect("run mkfifo");
            assert!(made.success(), "mkfifo {fifo}");
        }
        let reader = std::fs::OpenOptions::new().read(true).write(true).open(dir.join("started")).unwrap();
        let keep = reader.try_clone().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                let mut ids = line.split_whitespace().map(|w| w.parse::<u32>());
                let (Some(Ok(pid)), Some(Ok(ppid))) = (ids.next(), ids.next()) else { break };
                if tx.send((pid, ppid)).is_err() {
                    break;
                }
            }
        });
        Announcements { lines, _keep: keep }
    }

    fn next(&self, what: &str) -> (u32, u32) {
        self.lines
            .recv_timeout(HANG_LIMIT)
            .unwrap_or_else(|_| panic!("{what} did not start within {HANG_LIMIT:?}"))
    }
}

/// A raw protocol client: connects, reads the hello, sends one request line.
fn send_request(socket: &Path, request: &Value) -> BufReader<UnixStream> {
    let stream = UnixStream::connect(socket).expect("connect to the server");
    let mut reader = BufReader::new(stream);
    let mut hello = String::new();
    reader.read_line(&mut hello).unwrap();
    let hello: Value = serde_json::from_str(&hello).expect("a JSON hello");
    assert_eq!(
        (&hello["protocol"], &hello["version"]),
        (&Value::from("runner-serve"), &Value::from(1)),
        "{hello}"
    );
    let mut line = serde_json::to_vec(request).unwrap();
    line.push(b'\n');
    reader.get_mut().write_all(&line).unwrap();
    reader
}

/// Reads one response line, bounded.
fn read_response(reader: BufReader<UnixStream>) -> Value {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = reader;
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(HANG_LIMIT).expect("a response within the hang limit");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a response ({e}): {line:?}"))
}

#[test]
fn a_sigterm_answers_every_client_lets_running_programs_finish_in_the_grace_and_leaves_nothing_behind() {
    let mut server = Server::start("warm", &["--interrupt-grace", "5"]);
    let dir = server.dir.path().to_path_buf();
    let announcements = Announcements::open(&dir);
    let (sleeper, waiter) = (dir.join("sleeper.py"), dir.join("waiter.py"));
    std::fs::write(&sleeper, SLEEPER).unwrap();
    std::fs::write(&waiter, WAITER).unwrap();
    // Both workers busy: one with a program that never ends, one with a program that ends when told.
    let sleeping = spawn(server.client(&["run"]).arg(&sleeper));
    let first = announcements.next("the sleeper or the waiter");
    let waiting = spawn(server.client(&["validate", "--json"]).arg(&waiter));
    let second = announcements.next("the sleeper or the waiter");
    // A third request waits for a worker.
    let queued = send_request(&server.socket, &serde_json::json!({"id": "q", "program": fixture("pass.py")}));

    let stopped = Instant::now();
    server.signal("TERM");
    // The queued request is answered at once: it will not run.
    let v = read_response(queued);
    assert_eq!((&v["id"], &v["error"]["kind"]), (&Value::from("q"), &Value::from("shutting_down")), "{v}");
    assert!(v.get("result").is_none(), "{v}");
    // A running program that ends within the grace gets its result.
    std::fs::write(dir.join("go"), "go").unwrap();
    let out = wait_within(waiting, HANG_LIMIT, "the waiter's client");
    assert_eq!(out.status.code(), Some(0), "the waiter's client: {}", describe(&out));
    let v = json(&out);
    assert_eq!((&v["stdout"], &v["returncode"]), (&Value::from("done\n"), &Value::from(0)), "{v}");
    // The one that never ends is killed when the grace ends; its client is told, in one line.
    let out = wait_within(sleeping, HANG_LIMIT, "the sleeper's client");
    assert_eq!(out.status.code(), Some(3), "the sleeper's client: {}", describe(&out));
    assert_eq!(text(&out.stdout), format!("Running: {}\n", sleeper.display()), "the sleeper's client");
    let err = text(&out.stderr);
    assert!(err.lines().count() == 1 && err.contains("killed when the interrupt's grace ended"), "{err:?}");
    assert!(stopped.elapsed() < HANG_LIMIT, "bounded");
    assert_eq!(server.wait().code(), Some(130), "the server's exit code");
    let said = server.stderr();
    assert!(said.contains("runner serve: interrupted"), "the server says it was interrupted: {said:?}");
    assert!(!server.socket.exists(), "the socket is removed");
    assert_all_die(
        &[first.0, first.1, second.0, second.1, server.pid],
        "the programs, their executors and the server",
    );
}

#[test]
fn a_client_that_goes_away_leaves_its_program_to_finish_and_be_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("served.jsonl");
    let mut server = Server::start("warm", &["-o", jsonl.to_str().unwrap(), "-v"]);
    let state = server.dir.path().to_path_buf();
    let announcements = Announcements::open(&state);
    let waiter = state.join("waiter.py");
    std::fs::write(&waiter, WAITER).unwrap();
    let gone = send_request(&server.socket, &serde_json::json!({"program": waiter}));
    announcements.next("the waiter");
    drop(gone);
    std::fs::write(state.join("go"), "go").unwrap();
    // The waiter, told to end, ends by the time the server has stopped (its grace): its record is
    // in the file then.
    let failing = fixture("exception.py");
    let out = finish(server.client(&["validate", "--json"]).arg(&failing));
    assert_python_s(&json(&out), &failing, &[], "warm");
    assert_eq!(server.stop().code(), Some(130));
    let records: Vec<Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a whole record ({e}): {l}")))
        .collect();
    let of = |p: &Path| records.iter().find(|r| r["program"] == p.to_str().unwrap()).cloned();
    let waited = of(&waiter).unwrap_or_else(|| panic!("the waiter is recorded: {records:?}"));
    assert_eq!((&waited["stdout"], &waited["status"]), (&Value::from("done\n"), &Value::from("passed")));
    let failed = of(&failing).unwrap_or_else(|| panic!("the failing program is recorded: {records:?}"));
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["signature"], "ValueError: boom", "the batch's failure signature");
    let keys: BTreeSet<&str> = failed.as_object().unwrap().keys().map(String::as_str).collect();
    for key in runner_tests::RESULT_KEYS.iter().chain(&["index", "worker", "status", "signature"]) {
        assert!(keys.contains(key), "the record has the batch's key {key}: {failed}");
    }
    // -v: one line per program served, naming it.
    let said = server.stderr();
    for p in [&waiter, &failing] {
        let lines = said
            .lines()
            .filter(|l| l.starts_with("runner serve: client ") && l.contains(p.to_str().unwrap()));
        assert_eq!(lines.count(), 1, "one line for {}: {said}", p.display());
    }
}

#[test]
fn the_server_is_quiet_without_v() {
    let mut server = Server::start("warm", &[]);
    for name in ["pass.py", "exception.py"] {
        let out = finish(server.client(&["validate", "--json"]).arg(fixture(name)));
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    }
    assert_eq!(server.stop().code(), Some(130));
    let said = server.stderr();
    let lines: Vec<&str> = said.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "only the interruption is said: {said:?}");
    assert!(lines[0].starts_with("runner serve: interrupted"), "{said:?}");
}

/// `validate --json --server` of prints_cuda_visible_devices.py with the client's
/// CUDA_VISIBLE_DEVICES: the device the result names, what the program saw, and the program's pid
/// (an executor's, in warm mode).
fn device_of(server: &Server, visible: &str, extra: &[&str]) -> (Value, String) {
    let program = fixture("prints_cuda_visible_devices.py");
    let out = finish(
        server.client(&["validate", "--json"]).args(extra).arg(&program).env("CUDA_VISIBLE_DEVICES", visible),
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v = json(&out);
    let selected = text(&out.stderr);
    let device = v["device"].clone();
    let want = match device.as_str() {
        Some(d) => format!("Selected CUDA_VISIBLE_DEVICES={d}\n"),
        None => String::new(),
    };
    assert_eq!(selected, want, "the device line goes to stderr with --json");
    (device, v["stdout"].as_str().unwrap().to_string())
}

#[test]
fn each_request_gets_a_device_by_the_policy_from_the_client_s_cuda_visible_devices() {
    let server = Server::start("warm", &[]);
    // Set: one of its entries; the program sees the one the result names.
    let mut seen = BTreeSet::new();
    for _ in 0..12 {
        let (device, printed) = device_of(&server, "a, b,c", &[]);
        let d = device.as_str().expect("a device").to_string();
        assert_eq!(printed, format!("'{d}'\n"), "the program sees its device");
        seen.insert(d);
    }
    assert!(seen.is_subset(&["a", "b", "c"].map(String::from).into()), "{seen:?}");
    // --seed: the device `runner validate --seed` would choose here.
    for seed in ["1", "2", "3"] {
        let (device, _) = device_of(&server, "x,y,z,w", &["--seed", seed]);
        let program = fixture("prints_cuda_visible_devices.py");
        let local = finish(
            runner()
                .args(["validate", "--json", "--seed", seed])
                .arg(&program)
                .env("CUDA_VISIBLE_DEVICES", "x,y,z,w"),
        );
        assert_eq!(device, json(&local)["device"], "--seed {seed}");
    }
}

#[test]
fn a_warm_executor_is_not_reused_for_another_device_and_pinned_workers_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("pid.py");
    std::fs::write(&program, "import os\nprint(os.getpid(), os.environ.get('CUDA_VISIBLE_DEVICES'))\n")
        .unwrap();
    let server = Server::start("warm", &["-j", "1"]);
    let run = |visible: &str| {
        let out =
            finish(server.client(&["validate", "--json"]).arg(&program).env("CUDA_VISIBLE_DEVICES", visible));
        let v = json(&out);
        let printed = v["stdout"].as_str().unwrap().to_string();
        let (pid, device) = printed.trim().split_once(' ').unwrap();
        (pid.to_string(), device.to_string())
    };
    let (a1, d1) = run("a");
    let (a2, d2) = run("a");
    let (b, d3) = run("b");
    assert_eq!((d1.as_str(), d2.as_str(), d3.as_str()), ("a", "a", "b"));
    assert_eq!(a1, a2, "the same device: the warm executor runs the next program too");
    assert_ne!(a2, b, "another device: CUDA would keep the first one, so a fresh executor");
    drop(server);

    let server = Server::start("warm", &["--devices", "p"]);
    let (device, printed) = device_of(&server, "a,b", &[]);
    assert_eq!((device, printed), (Value::from("p"), "'p'\n".to_string()), "--devices pins the workers");
}

#[test]
fn bad_requests_are_answered_and_the_connection_goes_on() {
    let server = Server::start("subprocess", &[]);
    let mut reader = send_request(&server.socket, &serde_json::json!({"id": 1, "program": "relative.py"}));
    let answer = |reader: &mut BufReader<UnixStream>| {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("not a response ({e}): {line:?}"))
    };
    let v = answer(&mut reader);
    assert_eq!((&v["id"], &v["error"]["kind"]), (&Value::from(1), &Value::from("bad_request")), "{v}");
    for bad in [
        "not json\n",
        "{\"version\": 99, \"program\": \"/p.py\"}\n",
        "{\"program\": \"/p.py\", \"timeout\": -1}\n",
    ] {
        reader.get_mut().write_all(bad.as_bytes()).unwrap();
        let v = answer(&mut reader);
        assert_eq!(v["error"]["kind"], "bad_request", "{bad:?}: {v}");
    }
    // The same connection still runs programs, with arguments, environment and a timeout.
    let request = serde_json::json!({"id": [2], "program": fixture("args.py"), "args": ["x y"], "env": {"K": "v"}, "timeout": 30});
    let mut bytes = serde_json::to_vec(&request).unwrap();
    bytes.push(b'\n');
    reader.get_mut().write_all(&bytes).unwrap();
    let v = answer(&mut reader);
    assert_eq!(v["id"], serde_json::json!([2]));
    assert_python_s(&v["result"], &fixture("args.py"), &["x y"], "subprocess");
}
