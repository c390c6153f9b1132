"""Starting and stopping a `runner serve` from Python, so that switching a ProgramRunner loop needs
no server set up by hand."""

import atexit
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

from ._client import ServerError

# What `runner serve` prints on stdout once it takes requests: the event a starter waits for.
_READY = b"runner serve: listening on "


def find_runner():
    """The `runner` binary: `$RUNNER_BIN`, else `runner` on PATH."""
    found = os.environ.get("RUNNER_BIN") or shutil.which("runner")
    if not found:
        raise ServerError("start", "cannot find runner: put it on PATH or set RUNNER_BIN")
    return found


class Server:
    """A `runner serve` this process starts (`start()`, or `with Server() as server:`) and stops
    (`stop()`, the end of the `with`, or the process's exit). Its socket is `socket`.

    `python` defaults to this Python (`sys.executable`), as ProgramRunner runs programs with it;
    `workers`, `mode`, `preload` (a list of modules) and `timeout` are `runner serve`'s `-j`,
    `--mode`, `--preload` and `--timeout`; `args` are more arguments for it. The server runs in this
    process's working directory and environment."""

    def __init__(self, socket=None, *, runner=None, python=None, workers=None, mode=None, preload=None,
                 timeout=None, args=()):
        self._given_socket = os.fspath(socket) if socket is not None else None
        self.socket = self._given_socket
        self._runner = runner
        self._python = python
        self._options = (workers, mode, preload, timeout)
        self._args = list(args)
        self._proc = None
        self._tmpdir = None
        self._owner = None
        self._lock = threading.Lock()

    def command(self):
        """The `runner serve` command line."""
        workers, mode, preload, timeout = self._options
        # Quiet: this process stops it, and needs no line saying so.
        cmd = [self._runner or find_runner(), "serve", "--quiet", "--socket", self.socket,
               "--python", self._python or sys.executable]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        if mode is not None:
            cmd += ["--mode", mode]
        if preload:
            cmd += ["--preload", ",".join(preload)]
        if timeout is not None:
            cmd += ["--timeout", str(timeout)]
        return cmd + self._args

    def start(self):
        """Starts the server and returns once it takes requests."""
        with self._lock:
            if self._proc is not None:
                return self
            if self._given_socket is None:
                self._tmpdir = tempfile.mkdtemp(prefix="runner-serve-")
                self.socket = os.path.join(self._tmpdir, "socket")
            cmd = self.command()
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
            except OSError as e:
                self._cleanup()
                raise ServerError("start", "cannot start %s: %s" % (cmd[0], e)) from None
            # Its errors went to our stderr; the first line on stdout says it is ready.
            line = proc.stdout.readline()
            proc.stdout.close()
            if not line.startswith(_READY):
                code = proc.wait()
                self._cleanup()
                raise ServerError("start", "runner serve did not start (exit status %s): %s"
                                  % (code, " ".join(shlex.quote(c) for c in cmd)))
            self._proc = proc
            self._owner = os.getpid()
            return self

    def stop(self, timeout=60):
        """Stops the server (SIGTERM: running programs get its --interrupt-grace) and waits for it;
        kills it if it has not ended within `timeout` seconds. Only the process that started it
        stops it (a forked child leaves its parent's server alone)."""
        with self._lock:
            proc = self._proc
            if proc is None or os.getpid() != self._owner:
                return
            self._proc = None
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._cleanup()

    def _cleanup(self):
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
            self.socket = self._given_socket

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


_shared = None
_shared_lock = threading.Lock()


def shared_server():
    """The server ProgramRunner() uses when given none and `$RUNNER_SERVER` is unset: started once
    per process with the arguments of `$RUNNER_SERVE_ARGS`, stopped at exit. Its socket goes into
    `RUNNER_SERVER`, so that processes started afterwards (a pool's workers) use it too."""
    global _shared
    with _shared_lock:
        if _shared is None:
            args = shlex.split(os.environ.get("RUNNER_SERVE_ARGS", ""))
            server = Server(args=args).start()
            atexit.register(server.stop)
            os.environ["RUNNER_SERVER"] = server.socket
            _shared = server
        return _shared
