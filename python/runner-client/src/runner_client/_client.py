"""The client side of `runner serve` (protocol version 1, docs/architecture.md): a connection per
thread and process, and ProgramRunner, which keeps torchfuzz's ProgramRunner interface."""

import json
import os
import socket
import sys
import threading

PROTOCOL = "runner-serve"
PROTOCOL_VERSION = 1

# How long a server that accepted the connection may take to say hello: its acceptor answers at
# once, so one that does not is stopped or stuck.
_HELLO_TIMEOUT = 30.0


class ServerError(RuntimeError):
    """A request the server could not answer with a result.

    `kind` is `connect` (no server listens there), `closed` (it went away before answering),
    `protocol` (it is not a runner server, or answered nonsense), `start` (the server this client
    started did not come up) or the server's own error kind: `bad_request`, `engine_failed`,
    `shutting_down`."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def _program_keys(abs_path):
    """The request's `program` (and `program_bytes` for a path that is not UTF-8), as in results."""
    raw = os.fsencode(abs_path)
    try:
        return {"program": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"program": raw.decode("utf-8", "replace"), "program_bytes": list(raw)}


class _Connection:
    """One connection to a server: its hello checked, then one request at a time."""

    def __init__(self, path):
        self.path = path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError as e:
            sock.close()
            raise ServerError(
                "connect",
                "cannot connect to the runner server at %s: %s (is `runner serve --socket %s` running?)"
                % (path, e.strerror or e, path),
            ) from None
        self._sock = sock
        self._file = sock.makefile("rb")
        try:
            sock.settimeout(_HELLO_TIMEOUT)
            line = self._file.readline()
            sock.settimeout(None)
        except OSError as e:
            self.close()
            raise ServerError("protocol", "%s is not a runner server: no hello (%s)" % (path, e)) from None
        try:
            hello = json.loads(line)
        except ValueError:
            hello = None
        if not isinstance(hello, dict) or hello.get("protocol") != PROTOCOL:
            self.close()
            raise ServerError("protocol", "%s is not a runner server (it said %r)" % (path, line[:200]))
        if hello.get("version") != PROTOCOL_VERSION:
            self.close()
            raise ServerError(
                "protocol",
                "the runner server at %s speaks version %s of the protocol, this client %d"
                % (path, hello.get("version"), PROTOCOL_VERSION),
            )
        self.hello = hello

    def request(self, request):
        """Sends one request and returns its result object, or raises ServerError."""
        line = json.dumps(request, separators=(",", ":")).encode("utf-8") + b"\n"
        try:
            self._sock.sendall(line)
            answer = self._file.readline()
        except OSError as e:
            self.close()
            raise ServerError("closed", "the runner server at %s went away (%s)" % (self.path, e)) from None
        except BaseException:
            # Interrupted (Ctrl-C) between the request and its answer: the answer would come to the
            # next request on this connection, so the connection goes (the program runs on).
            self.close()
            raise
        if not answer.endswith(b"\n"):
            self.close()
            raise ServerError(
                "closed",
                "the runner server at %s closed the connection before answering (it stopped or died)"
                % self.path,
            )
        try:
            response = json.loads(answer)
        except ValueError as e:
            self.close()
            raise ServerError("protocol", "the runner server at %s answered nonsense: %s" % (self.path, e)) from None
        error = response.get("error")
        if error is not None:
            raise ServerError(
                error.get("kind", "protocol"),
                "the runner server at %s gave no result: %s" % (self.path, error.get("message", error)),
            )
        result = response.get("result")
        if not isinstance(result, dict):
            self.close()
            raise ServerError("protocol", "the runner server at %s answered without a result" % self.path)
        return result

    def close(self):
        for closable in (self._file, self._sock):
            try:
                closable.close()
            except OSError:
                pass
        self.closed = True

    closed = False


class ProgramRunner:
    """torchfuzz's ProgramRunner: `run_program` prints the same transcript and exits the process with
    status 1 when the program failed; `run_and_validate` returns `{success, stdout, stderr,
    returncode}`. The programs run in a `runner serve` server: the one on `server`, else on
    `$RUNNER_SERVER`; with neither, one this process starts (see `runner_client.Server`) and stops
    at its exit."""

    def __init__(self, server=None):
        if server is None:
            server = os.environ.get("RUNNER_SERVER") or None
        if server is None:
            from ._server import shared_server

            server = shared_server().socket
        self.socket = os.fspath(server)
        # A connection per thread, and none shared with a forked child (its requests and the
        # parent's would interleave on one socket).
        self._local = threading.local()

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or self._local.pid != os.getpid():
            conn = _Connection(self.socket)
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    def run(self, program_path, args=(), env=None, timeout=None, purpose="run", seed=None):
        """Runs the program in the server and returns the whole result object (the keys `runner
        validate --json` prints). `purpose` is `run` or `validate`: with `validate`, GPU 0 is left
        to the parent when several GPUs are counted."""
        request = {"version": PROTOCOL_VERSION, "purpose": purpose}
        request.update(_program_keys(os.path.abspath(program_path)))
        if args:
            request["args"] = [str(a) for a in args]
        if env:
            request["env"] = dict(env)
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            request["cuda_visible_devices"] = visible
        if timeout is not None:
            request["timeout"] = float(timeout)
        if seed is not None:
            request["seed"] = int(seed)
        return self._connection().request(request)

    def run_program(self, program_path):
        """Runs the program and prints its output; on failure prints its source and exit code and
        exits the process with status 1. Returns True."""
        abs_path = os.path.abspath(program_path)
        print(f"Running: {abs_path}")
        result = self.run(abs_path, purpose="run")
        _announce(result)
        if result["returncode"] == 0:
            print("=== Program Output ===")
            print(result["stdout"])
            print(result["stderr"])
            return True
        print("=== Program Output (Failure) ===")
        print(result["stdout"])
        print(result["stderr"])
        print("===============================")
        print("=== Program Source ===")
        with open(abs_path) as f:
            print(f.read())
        print("======================")
        print(f"Program exited with code: {result['returncode']}")
        sys.exit(1)

    def run_and_validate(self, program_path):
        """Runs the program and returns `{success, stdout, stderr, returncode}`."""
        result = self.run(os.path.abspath(program_path), purpose="validate")
        _announce(result)
        return {
            "success": result["returncode"] == 0,
            "stdout": result["stdout"],
            "stderr": result["stderr"],
            "returncode": result["returncode"],
        }


def _announce(result):
    """The device line ProgramRunner prints when it chose a device."""
    device = result.get("device")
    if device is not None:
        print(f"Selected CUDA_VISIBLE_DEVICES={device}")
