"""The Python half of runner's executors: run one program as `python /abs/prog.py` would, from the
state python starts with to the end python gives it.

The zygote loads this file as a private module (it is never in sys.modules), beside `warm_state.py`
(`_state` here), whose registry records the baseline once after the preloads and puts it back after
each program. The Rust side has already placed the program's output pipes on fds 1 and 2 and /dev/null
on fd 0. It calls `prepare()`, then runs the file itself through CPython's own `PyRun_FileExFlags`
(with no Python frame of ours on the stack, so recursion depth is the program's alone) and prints an
uncaught exception through `PyErr_PrintEx`, as pythonrun.c does, then calls `end_program()` (exit
handlers, thread shutdown) and `finalize()` (stream flushing, teardown of `__main__`, the result and
whether the executor may run another program, after `_state.restore_all()`).

The references are CPython's Modules/main.c (pymain_run_python, Py_RunMain), Python/pythonrun.c
(_PyRun_SimpleFileObject, handle_system_exit, flush_io) and Python/pylifecycle.c (create_stdio,
Py_FinalizeEx, flush_std_files).
"""

import atexit
import builtins
import gc
import io
import operator
import os
import signal
import sys
import threading
import time
import types
import warnings
import weakref

# What this module calls after a program, bound when it is loaded (before any program): a program that
# replaces one of them (gc.collect = None, os.write = ...) changes what it sees, not what runner does.
# (The builtins are a private copy too, made by the zygote.)
_os = types.SimpleNamespace(**vars(os))
_sys = types.SimpleNamespace(**vars(sys))
_gc = types.SimpleNamespace(**vars(gc))
_io = types.SimpleNamespace(**vars(io))
_thr = types.SimpleNamespace(**vars(threading))
_weakref = types.SimpleNamespace(**vars(weakref))
_atexit = types.SimpleNamespace(**vars(atexit))
_ModuleType = types.ModuleType
_perf_counter = time.perf_counter
# python's shutdown calls threading._shutdown by name (PyObject_CallMethodNoArgs): so does this, from C.
_call_shutdown = operator.methodcaller("_shutdown")
_NOT_IMPORTED = object()
_thr_module = threading

# Injected by the Rust side (worker/capi.rs): `_traced(func, args, kwargs)` calls `func` with the
# program's trace and profile functions active, as python's shutdown has them (runner's own code runs
# with them off, so that a program's tracer sees what it would see in python and nothing of runner's).
_traced = None

# Injected by the Rust side (worker/zygote.rs): the warm-state registry's module (warm_state.py).
_state = None

# The streams made for the current program (sys.__std*__), flushed at its end even if replaced.
_streams = ()

_STD_NAMES = ("<stdin>", "<stdout>", "<stderr>")


# torch.cuda.is_available() asks the CUDA runtime for the device count unless this is "1"; that call
# makes every forked child unable to use CUDA (torch's "bad fork"). torch._inductor asks at import
# (runtime/benchmarking.py), so preloads run with the NVML count, which leaves fork alone.
_NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"


def preload_begin(bytecode_cache, preloads):
    """Called in the zygote before the preloads; returns what preload_end() needs to undo.

    With `bytecode_cache` (a directory), an interpreter that would write no bytecode
    (PYTHONDONTWRITEBYTECODE, -B) and no PYTHONPYCACHEPREFIX, and a first preload whose bytecode is
    not beside its source (a package installed without compiling, as pip --no-compile does), the
    preloads' bytecode is written to and read from that directory (sys.pycache_prefix) for the time
    of the preloads only: python compiles those sources at every start, runner once."""
    undo = {"nvml": _NVML_CHECK not in os.environ, "modules": None}
    if undo["nvml"]:
        os.environ[_NVML_CHECK] = "1"
    if bytecode_cache and sys.dont_write_bytecode and sys.pycache_prefix is None and preloads:
        try:
            from importlib.util import find_spec

            spec = find_spec(preloads[0].partition(".")[0])
            compiled = spec is None or not spec.cached or os.path.exists(spec.cached)
        except (ImportError, ValueError):
            compiled = True
        if compiled:
            return undo
        undo["modules"] = set(sys.modules)
        sys.pycache_prefix, sys.dont_write_bytecode = bytecode_cache, False
    return undo


def preload_end(undo):
    if undo["nvml"]:
        del os.environ[_NVML_CHECK]
    if undo["modules"] is None:
        return
    prefix = sys.pycache_prefix
    sys.pycache_prefix, sys.dont_write_bytecode = None, True
    from importlib.util import cache_from_source

    # What python would have set: the module's cache path beside its source, as if it were written.
    for name in set(sys.modules) - undo["modules"]:
        module = sys.modules[name]
        spec = getattr(module, "__spec__", None)
        cached = getattr(spec, "cached", None)
        if not isinstance(cached, str) or not cached.startswith(prefix):
            continue
        try:
            cached = cache_from_source(spec.origin)
        except (NotImplementedError, ValueError, TypeError):
            cached = None
        try:
            spec.cached = cached
        except AttributeError:
            pass
        # Through the dict: torch's config modules refuse attributes they do not declare.
        namespace = getattr(module, "__dict__", None)
        if isinstance(namespace, dict) and isinstance(namespace.get("__cached__"), str):
            namespace["__cached__"] = cached


def preload_spoils_cuda():
    """Why an executor forked from this zygote could not use CUDA, or None. Called after each preload:
    a preload that initialised CUDA, or asked the CUDA runtime anything, makes torch refuse CUDA in
    every forked child ("Cannot re-initialize CUDA in forked subprocess")."""
    cuda = getattr(sys.modules.get("torch"), "cuda", None)
    if cuda is None:
        return None
    if cuda.is_initialized():
        return "importing it initialised CUDA"
    in_bad_fork = getattr(cuda, "_is_in_bad_fork", None)
    if in_bad_fork is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3.12's DeprecationWarning when the zygote has native threads
        pid = os.fork()
    if pid == 0:
        os._exit(1 if in_bad_fork() else 0)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 and cuda.device_count() > 0:
        # Without a device nothing is lost but torch's message (docs/differences.md, "CUDA on a
        # machine without a GPU").
        return "importing it asked the CUDA runtime for its devices"
    return None


# Injected by the Rust side: PyErr_WriteUnraisable(obj) for an exception ("Exception ignored in: obj").
_write_unraisable = None

# Injected by the Rust side: a new module object whose namespace is a given dict.
_module_with_dict = None


def _make_stdio():
    """New sys.stdin/stdout/stderr exactly as create_stdio() makes them for the fds the program has."""
    b = _state._base
    buffered = b.buffered_stdio
    streams = []
    for fd, write, name, (encoding, errors) in zip((0, 1, 2), (False, True, True), _STD_NAMES, b.stdio):
        buffering = 0 if (write and not buffered) else -1
        buf = _io.open(fd, "wb" if write else "rb", buffering, closefd=False)
        raw = buf.raw if buffering else buf
        raw.name = name
        line_buffering = buffered and (raw.isatty() or fd == 2)
        stream = _io.TextIOWrapper(
            buf,
            encoding,
            errors,
            "\n",
            line_buffering=line_buffering,
            write_through=not buffered,
        )
        stream.mode = "w" if write else "r"
        streams.append(stream)
    global _streams
    _streams = tuple(streams)
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams
    # threading's main-thread object keeps the sys.stderr of the moment threading was imported (for its
    # exception hook), which in python, where the program imports threading, is the program's own.
    threading._main_thread._stderr = streams[2]


def prepare(path, args, env):
    """Everything python does between its start and the first line of the program."""
    # First the registry's own preparations (each program runs in a context of its own).
    _state.prepare_program()
    for key, value in env:
        os.environ[key] = value
    _make_stdio()
    sys.argv = [path, *args]
    sys.orig_argv = [_state._base.argv0, path, *args]
    if not sys.flags.safe_path:
        # _PyPathConfig_ComputeSysPath0: the directory of the script, symbolic links resolved.
        sys.path.insert(0, _os.path.dirname(_os.path.realpath(path)))
    main = _ModuleType("__main__")
    d = main.__dict__
    # add_main_module() in pylifecycle.c, then _PyRun_SimpleFileObject's __file__ and __cached__.
    d["__annotations__"] = {}
    d["__builtins__"] = builtins
    # set_main_loader() in pythonrun.c: a script's loader is a SourceFileLoader.
    d["__loader__"] = _sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", path)
    d["__file__"] = path
    d["__cached__"] = None
    _sys.modules["__main__"] = main
    global _main_ref, _probe_ref
    _main_ref = _weakref.ref(main)
    _probe_ref = None
    # Exit handlers registered before the program belong to the zygote's preloads.
    _atexit._clear()
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
    stderr = getattr(sys, "stderr", None)
    try:
        if stderr is not None:
            # PyFile_WriteObject(value, sys.stderr, Py_PRINT_RAW); a failure is dropped.
            stderr.write(str(value))
        else:
            # PyObject_Print(value, stderr, Py_PRINT_RAW): C's unbuffered stderr.
            _os.write(2, str(value).encode(errors="backslashreplace"))
    except BaseException:
        pass
    # PySys_WriteStderr("\n"): to sys.stderr, or to C's stderr when that fails (sys_write()).
    try:
        sys.stderr.write("\n")
    except BaseException:
        try:
            _os.write(2, b"\n")
        except OSError:
            pass
    return 1


def _run_library_exit_handlers():
    """At the process's real end, the exit handlers of installed packages run as python runs them
    (newest first, after the program's, which are newer), an error reported as atexit reports it."""
    handlers = _state._library_exit_handlers
    while handlers:
        func, args, kwargs = handlers.pop()
        try:
            _traced(func, args, kwargs)
        except BaseException as e:
            _write_unraisable(_without_our_frames(e), func)


def _hold_library_finalizers():
    """weakref.finalize's exit hook runs every pending finalizer at exit. Those of the zygote's
    preloads and of installed packages (torch's operator libraries, which unregister their operators)
    are library state that outlives the program in a warm executor: they are held back from the
    program's exit (their `atexit` flag off for its duration) and stay pending. Returns what to turn
    back on."""
    held = []
    zygote = _state._base.finalizers
    for f, info in list(_weakref.finalize._registry.items()):
        if info.atexit and (id(f) in zygote or _is_library_callback(info.func)):
            info.atexit = False
            held.append(info)
    return held


def _is_library_callback(func):
    """Whether a finalizer's callback is library machinery. The compiler's own (dynamo's guards
    invalidate compiled code when what they guard dies) belong to the compiled program, which is
    program state: they run at its exit, as in python."""
    module = _state.callback_module(func)
    if module is None or module.startswith("torch._dynamo"):
        return False
    return _state.is_installed_package(_sys.modules.get(module))


class _NotMainThread:
    """Stands in for threading's main thread while its _shutdown() runs the program's exit hooks in an
    executor that goes on: the real main thread is then neither stopped nor waited for."""

    _is_stopped = False
    ident = None


def _run_threading_atexits(module):
    """The exit hooks that modules the program imported registered with threading (such as
    concurrent.futures' `_python_exit`), run by threading._shutdown() itself, newest first, so that an
    error in one reads as in python; then the list is as it was. Only called when no other thread is
    left, so none of them waits and nothing is joined. `module`: threading, as sys.modules has it."""
    b = _state._base
    namespace = vars(module)
    hooks = namespace.get("_threading_atexits")
    if hooks is None or hooks == b.threading_atexits:
        return
    # Those of library machinery (concurrent.futures' hook, when a package's pool imported it) are
    # left alone: they would shut down the pools that stay with the executor.
    modules = _sys.modules
    library = set(_state.library_closure([n for n in modules if n not in b.modules]))
    own = [h for h in hooks[len(b.threading_atexits):] if _state.callback_module(h) not in library]
    if not own:
        return
    main = namespace.get("_main_thread")
    locks = namespace.get("_shutdown_locks")
    namespace["_threading_atexits"] = own
    namespace["_main_thread"] = _NotMainThread
    # Nothing is to be joined: the main thread and the library threads that stay go on.
    if locks is not None:
        namespace["_shutdown_locks"] = set()
    try:
        _traced(_call_shutdown, (module,), None)
    finally:
        namespace["_main_thread"] = main
        namespace["_threading_atexits"] = hooks
        namespace["_SHUTTING_DOWN"] = False
        if locks is not None:
            namespace["_shutdown_locks"] = locks
    # The list keeps the hooks (and what they refer to, maybe __main__) until the restore, as python's
    # keeps them to the end.


def _without_our_frames(exc):
    """`exc` with the frames of this module taken off the front of its traceback: python reports an
    error of its shutdown code from C, with no frame of runner's above it."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals is globals():
        tb = tb.tb_next
    return exc.with_traceback(tb)


class _Probe:
    """Put into __main__'s globals at the end of a program: while it lives, so does that dict."""

    __slots__ = ("__weakref__",)


# The key of the probe: not an identifier, so no program can mean it.
_PROBE_KEY = " runner: globals alive"

# RUNNER_DEBUG's account of what kept the last program's __main__ alive.
_survivor_chain = None

# Weak references to the current program's __main__ module and to the probe in its globals.
_main_ref = None
_probe_ref = None


def _teardown_main():
    """The part of finalize_modules() that decides __main__'s fate. python empties sys.modules (and the
    import state, finalize_modules_delete_special) and collects the garbage: __main__'s module object dies
    with its entry, and its globals go in that collection unless something still refers to them (an audit
    or at-fork hook, a stdlib module global, a daemon thread), in which case their finalizers run, if at
    all, late in the shutdown, with sys already gone. Here the same collection runs with __main__ gone
    from sys.modules (and the import state switched off); the rest of the modules stay. Returns True
    when __main__'s module or globals survived it: then only the real Py_FinalizeEx can say what python
    does with them, and the executor ends with it. The import state is put back afterwards either way."""
    # finalize_modules_delete_special() puts the original streams back, finalize_restore_builtins() the
    # original builtins, before anything of __main__ is finalised.
    for name in ("stdin", "stdout", "stderr"):
        setattr(sys, name, getattr(sys, "__" + name + "__"))
    _state.restore_at("finalize_modules")
    b = _state._base
    modules = _sys.modules
    order = list(modules)
    saved_modules = dict(modules)
    if saved_modules.get("__main__") is _main_ref() is not None:
        del saved_modules["__main__"]
    # Extension modules whose C state outlives their module objects, kept for the restore.
    _state.keep_c_state(modules)
    # Modules the program imported go too (python empties sys.modules), unless they come from an
    # installed package (those stay, docs/differences.md); they are put back afterwards if they live.
    dropped = {}
    for name in modules.keys() - b.modules.keys():
        module = saved_modules.get(name)
        if module is not None and not _state.is_installed_package(module):
            try:
                dropped[name] = _weakref.ref(module)
            except TypeError:
                continue
            del saved_modules[name]
    module = None
    # The import lists python starts with outlive this (the copy of sys's dict that the interpreter
    # keeps refers to them), and so does a finder a program put in them; runner's baseline holds them
    # the same way. Lists the program made instead are let go.
    for name in _SYS_DELETES:
        setattr(sys, name, None)
    modules.clear()
    try:
        _traced(_gc.collect, (), None)
        survived = _main_ref() is not None or (_probe_ref is not None and _probe_ref() is not None)
    finally:
        for name, ref in dropped.items():
            if ref() is not None:
                saved_modules[name] = ref()
        main = _main_ref()
        if main is None and not dropped:
            modules.update(saved_modules)
        else:
            # What lives on goes back in its place in the import order, which decides when python
            # clears it.
            for key in order:
                value = saved_modules.get(key, main)
                if value is not None:
                    modules[key] = value
        main = None
        saved_modules = None
        for name in _SYS_DELETES:
            if name in b.sys_attrs:
                setattr(sys, name, b.sys_attrs[name])
            else:
                try:
                    delattr(sys, name)
                except AttributeError:
                    pass
    if survived:
        probe = _probe_ref() if _probe_ref is not None else None
        globals_ = None
        if probe is not None:
            for referrer in _gc.get_referrers(probe):
                if isinstance(referrer, dict) and referrer.get(_PROBE_KEY) is probe:
                    globals_ = referrer
                    del globals_[_PROBE_KEY]
        probe = None
        global _survivor_chain
        if b.debug:
            alive = globals_ if globals_ is not None else _main_ref()
            _survivor_chain = _holders(alive) if alive is not None else None
            alive = None
        if globals_ is not None and "__main__" in order and "__main__" not in modules:
            # The module object died with its entry while its globals live on. In python both live
            # until its shutdown empties sys.modules, and what happens to the globals then is
            # decided there: a module with those globals takes the place of the one that died.
            now = dict(modules)
            modules.clear()
            for key in order:
                if key == "__main__":
                    modules[key] = _module_with_dict("__main__", globals_)
                elif key in now:
                    modules[key] = now[key]
            modules.update(now)
    return survived


def _holders(target, depth=12):
    """RUNNER_DEBUG's evidence of why `target` outlived its program: a chain of referrers from it back
    to a root (a module's globals, a class, a thread's frame) or as far as the collector can see, as
    text. One scan of the heap per step back, so only asked for while debugging."""
    modules = {id(vars(m)): name for name, m in list(_sys.modules.items()) if isinstance(m, _ModuleType)}
    parent = {id(target): None}
    keep = [target]
    frontier = [target]
    mine = {id(parent), id(keep), id(frontier)}
    end = target
    for _ in range(depth):
        mine.add(id(frontier))
        found = []
        for r in _gc.get_referrers(*frontier):
            if id(r) in parent or id(r) in mine or r is found or _is_args(r, frontier):
                continue
            # Which object of the frontier this one refers to: the first one it does.
            referents = {id(x) for x in _gc.get_referents(r)}
            parent[id(r)] = next((o for o in frontier if id(o) in referents), None)
            keep.append(r)
            if id(r) in modules or isinstance(r, (type, types.FrameType)):
                end = r
                found = None
                break
            found.append(r)
        if not found:
            break
        frontier = found[:200]
        end = frontier[0]
    steps = []
    obj = end
    while obj is not None:
        steps.append(_describe(obj, modules))
        obj = parent.get(id(obj))
    return " -> ".join(steps)


def _describe(obj, modules):
    if id(obj) in modules:
        return f"module {modules[id(obj)]}"
    if isinstance(obj, type):
        return f"class {obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, types.FrameType):
        return f"frame {obj.f_code.co_name} ({obj.f_code.co_filename}:{obj.f_lineno})"
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        return f"{type(obj).__name__} {getattr(obj, '__qualname__', '?')}"
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _is_args(obj, frontier):
    """The argument tuple of gc.get_referrers(*frontier) itself."""
    return type(obj) is tuple and len(obj) == len(frontier) and all(a is b for a, b in zip(obj, frontier))


# finalize_modules_delete_special() in pylifecycle.c sets these sys attributes to None.
_SYS_DELETES = (
    "path", "argv", "ps1", "ps2", "last_type", "last_value", "last_traceback",
    "path_hooks", "path_importer_cache", "meta_path", "__interactivehook__",
)


# RUNNER_DEBUG: (label, time) at each step of the end of the current program.
_marks = []


def _mark(label):
    if _state._base.debug:
        _marks.append((label, _perf_counter()))


class Ending:
    """How a program ended, handed to the Rust side, which reads it by name (worker/executor.rs,
    `Ending`): the returncode, whether it was a KeyboardInterrupt (python then dies by SIGINT),
    whether the executor can go on and why not (a `warm_state.Retire`), and whether python's real
    shutdown must end it."""

    __slots__ = ("returncode", "keyboard_interrupt", "reusable", "reason", "finalize")

    def __init__(self, returncode, keyboard_interrupt, reusable, reason, finalize):
        self.returncode = returncode
        self.keyboard_interrupt = keyboard_interrupt
        self.reusable = reusable
        self.reason = reason
        self.finalize = finalize


def debug_timings():
    """RUNNER_DEBUG's account of where the end of the last program went (its exit, teardown and the
    restore), as text; None without RUNNER_DEBUG."""
    if not _state._base.debug or len(_marks) < 2:
        return None
    text = ", ".join(f"{label} {t - before:.3f} s" for (_, before), (label, t) in zip(_marks, _marks[1:]))
    _marks.clear()
    return text


def end_program(d, how, payload, last, traced):
    """The first half of the end of a program that the Rust side ran: the exit status, then
    Py_FinalizeEx's thread shutdown and atexit handlers. Returns an `Ending`; the Rust side then
    flushes the std files (with no frame of ours on the stack, as at exit) and calls `finalize()`.

    `how` (worker/capi.rs, FileEnd): "returned", the program ran to its end; "raised", an exception
    was printed (payload: it was exactly a KeyboardInterrupt); "system_exit", SystemExit was raised
    (payload: the exception, not printed); "unopenable", the file could not be opened (python exits
    2). With `last`, the process exits after this program, so python's own thread shutdown is used;
    otherwise the executor goes on only if the program left no thread behind and its state can be
    restored. `traced`: the program left a trace or profile function, which must see threading's whole
    shutdown, as in python (the executor then ends after the program).
    """
    _marks.clear()
    _mark("end")
    kbd = how == "raised" and bool(payload)
    if how == "system_exit":
        code = _exit_code(payload)
    elif how == "unopenable":
        code = 2
    elif how == "raised":
        code = 1
    else:
        code = 0
    payload = None
    # _PyRun_SimpleFileObject's `done:` — __file__ and __cached__ go before finalisation.
    d.pop("__file__", None)
    d.pop("__cached__", None)
    try:
        reusable = not last and _state.quiet_threads()
        reason = None if reusable or last else _state.Retire("threads_left")
    except Exception as e:
        # threading's tables are not what they were (a program rebound them): python's shutdown finds
        # what it finds; this executor ends after the program.
        reusable, reason = False, _state.Retire("state", f"threading's tables are unreadable ({type(e).__name__})", "threads")
    if reusable and traced:
        reusable, reason = False, _state.Retire("state", "the program left a trace or profile function", "tracing")
    # wait_for_thread_shutdown(): threading as sys.modules has it (not there: nothing to wait for), its
    # _shutdown called by name.
    module = _sys.modules.get("threading", _NOT_IMPORTED)
    try:
        if module is _NOT_IMPORTED:
            pass
        elif not reusable:
            _traced(_call_shutdown, (module,), None)
        elif module is not _thr_module or not _state.threading_as_started():
            # The program replaced threading, its _shutdown or what that uses (builtins): python runs
            # what is there, all of it, and the executor ends after the program.
            _traced(_call_shutdown, (module,), None)
            reusable, reason = False, _state.Retire("state", "the program changed threading's shutdown", "threading")
        else:
            _run_threading_atexits(module)
    except BaseException as e:
        # PyErr_WriteUnraisable(threading module); the exit goes on.
        _write_unraisable(_without_our_frames(e), module)
        reusable, reason = False, _state.Retire("threading_hook_failed")
    _mark("threads")
    held = () if last else _hold_library_finalizers()
    # atexit's own C function (python's shutdown never looks it up), not the module attribute.
    _traced(_atexit._run_exitfuncs, (), None)
    for info in held:
        info.atexit = True
    if last:
        _run_library_exit_handlers()
    _mark("atexit")
    global _probe_ref
    probe = _Probe()
    d[_PROBE_KEY] = probe
    _probe_ref = _weakref.ref(probe)
    return Ending(code, kbd, reusable, reason, False)


def finalize(ending, flushed):
    """The rest of Py_FinalizeEx as a program can see it: __main__ torn down, the original streams
    flushed, 120 when flushing the std files failed; then, for an executor that goes on, the state
    restored. Returns the `Ending` updated; with its `finalize`, __main__ outlived its teardown and
    the Rust side ends the executor with the real Py_FinalizeEx (which flushes the streams and says
    whether that failed), with the program's output still attached."""
    code, kbd, reusable, reason = ending.returncode, ending.keyboard_interrupt, ending.reusable, ending.reason
    # Py_FinalizeEx, after flushing the std files: _PySignal_Fini() lets go of the program's signal
    # handlers, then a collection runs (if gc is enabled) while the modules, and the streams the
    # program left in sys, are all still there.
    _state.restore_at("signal_fini")
    if _gc.isenabled():
        _traced(_gc.collect, (), None)
    _mark("collection")
    # Under gc.DEBUG_SAVEALL python's shutdown keeps whatever its collections find (and all it refers
    # to, the program's streams maybe) in gc.garbage, never finalized: only that shutdown can say
    # which buffered output is lost, so the executor ends with it, __main__ still in place.
    saveall = _gc.get_debug() & _gc.DEBUG_SAVEALL
    if not saveall and reusable:
        why = _state.restore_at("compiled", _main_ref())
        if why is not None:
            reusable, reason = False, why
        _mark("dynamo reset")
    if saveall or _teardown_main():
        # python's shutdown finalizes the program's streams (flushing them) when nothing else holds
        # them: nothing of runner's may.
        # Nor may runner keep anything alive that python's shutdown would collect: the baseline holds
        # every module the zygote had, this module's globals the ones it imports. Nothing here runs
        # again in this process.
        if kbd:
            code = -signal.SIGINT
        # threading's exit hooks have run: python's shutdown must find the main thread stopped, as
        # threading._shutdown() leaves it, or it would run them again.
        main = threading._main_thread
        if not main._is_stopped and main._tstate_lock is not None and main._tstate_lock.locked():
            main._tstate_lock.release()
            main._stop()
        main = None
        # ... and not call threading._shutdown a second time (a program's profiler would see it): in
        # its place, a built-in that does nothing.
        module = _sys.modules.get("threading")
        if type(module) is _ModuleType:
            vars(module)["_shutdown"] = int
        module = None
        # What the zygote froze (every preloaded module) is collectable in python's shutdown.
        _gc.unfreeze()
        # The std files were flushed (python's first flush, errors reported); Py_FinalizeEx must not
        # flush them again, and finalize_modules() puts sys.__std*__ back in their place.
        sys.stdout = sys.stderr = None
        if saveall:
            reason = _state.Retire("gc_saveall")
        else:
            reason = _state.Retire("main_outlived", _survivor_chain)
        ending = Ending(code, kbd, False, reason, True)
        # runner's two modules let go of everything they hold (the functions they bound keep their
        # modules' globals alive, which python's shutdown clears and collects).
        vars(_state).clear()
        globals().clear()
        return ending
    # The original streams die at exit and flush what they hold, even when the program replaced them.
    for stream in _streams:
        try:
            stream.flush()
        except BaseException:
            # What it could not write would reach the next program's output when the stream dies.
            reusable, reason = False, _state.Retire("stream_not_flushed")
    _mark("teardown")
    if not flushed:
        code = 120
    if kbd:
        code = -signal.SIGINT
    if reusable:
        reason = _state.restore_all()
        reusable = reason is None
        _mark("restore")
    return Ending(code, kbd, reusable, reason, False)

