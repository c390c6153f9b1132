"""The Python half of runner's executors: run one program as `python /abs/prog.py` would, then put
the process back as it was so the next program cannot tell it is not in a fresh interpreter.

The zygote loads this file as a private module (it is never in sys.modules) and calls
`capture_baseline()` once after the preloads; every executor forked from it inherits that baseline.
The Rust side has already placed the program's output pipes on fds 1 and 2 and /dev/null on fd 0, and
injects `_run_file(path, globals)`, which parses and runs the file through CPython's own
`PyRun_FileExFlags` and prints an uncaught exception through `PyErr_PrintEx`, as pythonrun.c does.

The references are CPython's Modules/main.c (pymain_run_python, Py_RunMain), Python/pythonrun.c
(_PyRun_SimpleFileObject, handle_system_exit, flush_io) and Python/pylifecycle.c (create_stdio,
Py_FinalizeEx, flush_std_files).
"""

import atexit
import builtins
import gc
import io
import os
import signal
import sys
import threading
import types
import warnings

# Injected by the Rust side: _run_file(path, globals) -> (status, payload)
#   status 0: ran to the end; 1: an exception was printed (payload: it was a KeyboardInterrupt);
#   2: SystemExit was raised (payload: the exception instance, not printed).
_run_file = None

_STD_NAMES = ("<stdin>", "<stdout>", "<stderr>")


class _Baseline:
    """The process state every program must start from, captured in the zygote."""


_base = None


def _signals():
    handlers = {}
    for sig in signal.valid_signals():
        try:
            handlers[sig] = signal.getsignal(sig)
        except (ValueError, OSError):
            pass
    return handlers


def _open_fds():
    try:
        return set(int(fd) for fd in os.listdir("/proc/self/fd"))
    except OSError:
        return set()


def capture_baseline(argv0):
    """Records the state of the freshly started, preloaded interpreter. Called once, in the zygote."""
    global _base
    b = _Baseline()
    b.argv0 = argv0
    b.cwd = os.getcwd()
    b.environ = dict(os.environ)
    b.umask = os.umask(0o22)
    os.umask(b.umask)
    b.path = list(sys.path)
    b.meta_path = list(sys.meta_path)
    b.path_hooks = list(sys.path_hooks)
    b.path_importer_cache = dict(sys.path_importer_cache)
    b.modules = dict(sys.modules)
    b.builtins = dict(builtins.__dict__)
    b.sys_attrs = dict(vars(sys))
    b.hooks = {
        name: getattr(sys, name) for name in ("excepthook", "displayhook", "breakpointhook", "unraisablehook")
    }
    b.recursionlimit = sys.getrecursionlimit()
    b.switchinterval = sys.getswitchinterval()
    b.int_max_str_digits = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else None
    b.signals = _signals()
    b.sigmask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    b.gc = (gc.isenabled(), gc.get_threshold(), gc.get_debug(), list(gc.callbacks))
    b.warnings = (list(warnings.filters), warnings.showwarning, warnings.formatwarning)
    b.threading_atexits = list(getattr(threading, "_threading_atexits", []))
    b.stdio = [(s.encoding, s.errors) if s is not None else ("utf-8", "strict") for s in (sys.stdin, sys.stdout, sys.stderr)]
    # config.buffered_stdio (off with -u or PYTHONUNBUFFERED) is not in sys.flags; the zygote's own
    # stdout, made by create_stdio() from that setting, says it.
    b.buffered_stdio = not getattr(sys.stdout, "write_through", False)
    _base = b
    # Objects that exist now live as long as the zygote: keep them out of every later collection, so a
    # collection between programs costs what the program allocated, not what the preloads did.
    gc.collect()
    gc.freeze()


def executor_started():
    """Called in each new executor: the descriptors it holds now are its own, not a program's leak."""
    _base.fds = _open_fds()


def _make_stdio():
    """New sys.stdin/stdout/stderr exactly as create_stdio() makes them for the fds the program has."""
    buffered = _base.buffered_stdio
    streams = []
    for fd, write, name, (encoding, errors) in zip((0, 1, 2), (False, True, True), _STD_NAMES, _base.stdio):
        buffering = 0 if (write and not buffered) else -1
        buf = io.open(fd, "wb" if write else "rb", buffering, closefd=False)
        raw = buf.raw if buffering else buf
        raw.name = name
        line_buffering = buffered and (raw.isatty() or fd == 2)
        stream = io.TextIOWrapper(
            buf,
            encoding,
            errors,
            "\n",
            line_buffering=line_buffering,
            write_through=not buffered,
        )
        stream.mode = "w" if write else "r"
        streams.append(stream)
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams


def _prepare(path, args, env):
    """Everything python does between its start and the first line of the program."""
    for key, value in env:
        os.environ[key] = value
    _make_stdio()
    sys.argv = [path, *args]
    sys.orig_argv = [_base.argv0, path, *args]
    if not sys.flags.safe_path:
        # _PyPathConfig_ComputeSysPath0: the directory of the script, symbolic links resolved.
        sys.path.insert(0, os.path.dirname(os.path.realpath(path)))
    main = types.ModuleType("__main__")
    d = main.__dict__
    # add_main_module() in pylifecycle.c, then _PyRun_SimpleFileObject's __file__ and __cached__.
    d["__annotations__"] = {}
    d["__builtins__"] = builtins
    d["__loader__"] = sys.modules["_frozen_importlib"].BuiltinImporter
    d["__file__"] = path
    d["__cached__"] = None
    sys.modules["__main__"] = main
    # Exit handlers registered before the program belong to the zygote's preloads.
    atexit._clear()
    return d


def _exit_code(exc):
    """handle_system_exit() in pythonrun.c: the status python exits with for this SystemExit."""
    value = exc
    if value is None:
        return 0
    if isinstance(value, BaseException):
        try:
            value = value.code
        except Exception:
            pass
        if value is None:
            return 0
    if isinstance(value, int):
        # (int)PyLong_AsLong(value): -1 on overflow; then exit() keeps the low 8 bits.
        if not -(2**63) <= value < 2**63:
            value = -1
        return value & 0xFF
    stderr = sys.stderr
    try:
        if stderr is not None:
            stderr.write(str(value))
        else:
            os.write(2, str(value).encode(errors="backslashreplace"))
    except BaseException:
        pass
    try:
        if sys.stderr is not None:
            sys.stderr.write("\n")
    except BaseException:
        pass
    return 1


def _flush_io():
    """flush_io() in pythonrun.c: flush stderr, then stdout, ignoring errors."""
    for name in ("stderr", "stdout"):
        f = getattr(sys, name, None)
        if f is not None:
            try:
                f.flush()
            except BaseException:
                pass


def _flush_std_files():
    """flush_std_files() in pylifecycle.c: False when stdout or stderr could not be flushed."""
    ok = True
    out = getattr(sys, "stdout", None)
    if out is not None and not getattr(out, "closed", True):
        try:
            out.flush()
        except BaseException as e:
            sys.unraisablehook(_unraisable(e, out))
            ok = False
    err = getattr(sys, "stderr", None)
    if err is not None and not getattr(err, "closed", True):
        try:
            err.flush()
        except BaseException:
            ok = False
    return ok


def _unraisable(exc, obj):
    return types.SimpleNamespace(
        exc_type=type(exc), exc_value=exc, exc_traceback=exc.__traceback__, err_msg=None, object=obj
    )


def _quiet_threads():
    """True when the program left no other Python thread and no thread exit hook behind."""
    return threading.active_count() == 1 and getattr(threading, "_threading_atexits", []) == _base.threading_atexits


def _clear_main(d):
    """Module teardown of __main__, in _PyModule_ClearDict's order: `_private` names first, then
    everything but __builtins__, so that __del__ methods run now, as they would at exit."""
    for key in list(d):
        if isinstance(key, str) and key.startswith("_") and not key.startswith("__"):
            d[key] = None
    for key in list(d):
        if isinstance(key, str) and key != "__builtins__":
            d[key] = None


def run_program(path, args, env, last):
    """Runs one program. Returns (returncode, keyboard_interrupt, reusable, reason).

    With `last`, the executor will exit after this program, so python's own thread shutdown is used;
    otherwise the executor keeps going only if the program left no thread behind and its state could be
    restored.
    """
    d = _prepare(path, args, env)
    status, payload = _run_file(path, d)
    kbd = status == 1 and payload
    code = {0: 0, 1: 1}.get(status)
    if status == 2:
        code = _exit_code(payload)
        payload = None
    # _PyRun_SimpleFileObject's `done:` — __file__ and __cached__ go before finalisation.
    d.pop("__file__", None)
    d.pop("__cached__", None)

    # Py_FinalizeEx, as far as a process that lives on may follow it.
    reusable = not last and _quiet_threads()
    reason = None if reusable or last else "the program left threads running"
    if not reusable:
        threading._shutdown()
    atexit._run_exitfuncs()
    ok = _flush_std_files()
    _clear_main(d)
    gc.collect()
    ok = _flush_std_files() and ok
    if not ok:
        code = 120
    if kbd:
        code = -signal.SIGINT
    if reusable:
        reason = _restore()
        reusable = reason is None
    return code, bool(kbd), reusable, reason


def _restore():
    """Puts back the baseline state; returns why the executor cannot be reused, or None."""
    b = _base
    try:
        os.chdir(b.cwd)
    except OSError:
        return "cannot return to the original working directory"
    if os.environ != b.environ:
        os.environ.clear()
        os.environ.update(b.environ)
    os.umask(b.umask)

    # Modules the program imported go; replaced ones come back; a parent package forgets a submodule
    # that is gone, as it never had it in a fresh interpreter.
    modules = sys.modules
    for name in [n for n in modules if n not in b.modules]:
        mod = modules.pop(name, None)
        parent, _, child = name.rpartition(".")
        if parent in b.modules and getattr(b.modules[parent], child, None) is mod:
            try:
                delattr(b.modules[parent], child)
            except AttributeError:
                pass
    for name, mod in b.modules.items():
        if modules.get(name) is not mod:
            modules[name] = mod

    for name, value in b.sys_attrs.items():
        if getattr(sys, name, None) is not value and name not in ("stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__"):
            try:
                setattr(sys, name, value)
            except (AttributeError, TypeError):
                pass
    for name in [n for n in vars(sys) if n not in b.sys_attrs]:
        delattr(sys, name)
    sys.path[:] = b.path
    sys.meta_path[:] = b.meta_path
    sys.path_hooks[:] = b.path_hooks
    sys.path_importer_cache.clear()
    sys.path_importer_cache.update(b.path_importer_cache)
    sys.settrace(None)
    sys.setprofile(None)
    threading.settrace(None)
    threading.setprofile(None)
    sys.setrecursionlimit(b.recursionlimit)
    sys.setswitchinterval(b.switchinterval)
    if b.int_max_str_digits is not None:
        sys.set_int_max_str_digits(b.int_max_str_digits)

    bd = builtins.__dict__
    if len(bd) != len(b.builtins) or any(bd.get(k, bd) is not v for k, v in b.builtins.items()):
        bd.clear()
        bd.update(b.builtins)

    for sig, handler in b.signals.items():
        if signal.getsignal(sig) is not handler:
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                return f"cannot restore the handler of signal {sig}"
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.set_wakeup_fd(-1)
    signal.pthread_sigmask(signal.SIG_SETMASK, b.sigmask)

    enabled, threshold, debug, callbacks = b.gc
    (gc.enable if enabled else gc.disable)()
    gc.set_threshold(*threshold)
    gc.set_debug(debug)
    gc.callbacks[:] = callbacks
    del gc.garbage[:]

    filters, showwarning, formatwarning = b.warnings
    warnings.filters[:] = filters
    warnings.showwarning = showwarning
    warnings.formatwarning = formatwarning
    # Bumping the filters' version empties every module's __warningregistry__, so a warning shown
    # "once" by the previous program shows again, as in a fresh interpreter.
    warnings._filters_mutated()

    if "random" in modules:
        modules["random"].seed()
    if "faulthandler" in modules and modules["faulthandler"].is_enabled() and "faulthandler" not in b.modules:
        modules["faulthandler"].disable()

    leaked = _open_fds() - b.fds
    if leaked:
        gc.collect()
        leaked = _open_fds() - b.fds
        if leaked - {0, 1, 2}:
            return "the program left file descriptors open"
    if threading.active_count() != 1:
        return "threads appeared while restoring"
    return None
