"""The Python half of runner's executors: run one program as `python /abs/prog.py` would, then put
the process back as it was so the next program cannot tell it is not in a fresh interpreter.

The zygote loads this file as a private module (it is never in sys.modules) and calls
`capture_baseline()` once after the preloads; every executor forked from it inherits that baseline.
The Rust side has already placed the program's output pipes on fds 1 and 2 and /dev/null on fd 0. It
calls `prepare()`, then runs the file itself through CPython's own `PyRun_FileExFlags` (with no Python
frame of ours on the stack, so recursion depth is the program's alone) and prints an uncaught exception
through `PyErr_PrintEx`, as pythonrun.c does, then calls `end_program()` (exit handlers, thread
shutdown, stream flushing, teardown of `__main__`) and `finalize()` (the result and whether the
executor may run another program, after `_restore()`).

The references are CPython's Modules/main.c (pymain_run_python, Py_RunMain), Python/pythonrun.c
(_PyRun_SimpleFileObject, handle_system_exit, flush_io) and Python/pylifecycle.c (create_stdio,
Py_FinalizeEx, flush_std_files).
"""

import _signal
import atexit
import builtins
import contextvars
import functools
import gc
import io
import itertools
import os
import signal
import sys
import threading
import time
import types
import warnings
import weakref

# The streams made for the current program (sys.__std*__), flushed at its end even if replaced.
_streams = ()

_STD_NAMES = ("<stdin>", "<stdout>", "<stderr>")


class _Baseline:
    """The process state every program must start from, captured in the zygote."""


_base = None


def _signals():
    """Every signal's handler, as _signal.getsignal() gives it (0 and 1 for SIG_DFL and SIG_IGN, not
    signal.getsignal()'s enum members, whose conversion would dominate the checks after each program)."""
    handlers = {}
    for sig in signal.valid_signals():
        try:
            handlers[sig] = _signal.getsignal(sig)
        except (ValueError, OSError):
            pass
    return handlers


def _open_fds():
    try:
        return set(int(fd) for fd in os.listdir("/proc/self/fd"))
    except OSError:
        return set()


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


def capture_baseline(argv0):
    """Records the state of the freshly started, preloaded interpreter. Called once, in the zygote."""
    global _base
    b = _Baseline()
    b.argv0 = argv0
    # RUNNER_DEBUG=1: retire reasons carry their evidence (what still refers to a program's __main__).
    b.debug = os.environ.get("RUNNER_DEBUG", "") not in ("", "0")
    b.cwd = os.getcwd()
    b.environ = dict(os.environ)
    # What os.environ holds, encoded: comparing it is a dict comparison in C.
    b.environ_data = dict(os.environ._data)
    b.umask = os.umask(0o22)
    os.umask(b.umask)
    b.path = list(sys.path)
    b.meta_path = list(sys.meta_path)
    b.path_hooks = list(sys.path_hooks)
    b.path_importer_cache = dict(sys.path_importer_cache)
    b.modules = dict(sys.modules)
    b.zygote_modules = frozenset(sys.modules)
    # Modules programs imported that stay, as libraries' machinery (_library_modules()).
    b.library_modules = set()
    b.builtins = dict(builtins.__dict__)
    b.builtin_ids = list(map(id, b.builtins.values()))
    b.sys_attrs = dict(vars(sys))
    b.hooks = {
        name: getattr(sys, name) for name in ("excepthook", "displayhook", "breakpointhook", "unraisablehook")
    }
    b.recursionlimit = sys.getrecursionlimit()
    b.switchinterval = sys.getswitchinterval()
    b.int_max_str_digits = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else None
    b.dlopenflags = sys.getdlopenflags()
    b.coroutine_depth = sys.get_coroutine_origin_tracking_depth()
    b.asyncgen_hooks = tuple(sys.get_asyncgen_hooks())
    b.faulthandler = sys.modules["faulthandler"].is_enabled() if "faulthandler" in sys.modules else False
    b.socket_timeout = sys.modules["_socket"].getdefaulttimeout() if "_socket" in sys.modules else None
    b.signals = _signals()
    b.priority = os.getpriority(os.PRIO_PROCESS, 0)
    b.affinity = os.sched_getaffinity(0)
    b.sigmask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    b.gc = (gc.isenabled(), gc.get_threshold(), gc.get_debug(), list(gc.callbacks))
    b.warnings = (list(warnings.filters), warnings.showwarning, warnings.formatwarning)
    b.threading_atexits = list(getattr(threading, "_threading_atexits", []))
    # Thread names count from the next number a fresh interpreter would use ("Thread-1").
    b.thread_counter = threading._counter()
    b.main_thread_name = threading.main_thread().name
    b.stack_size = threading.stack_size()
    threading._counter = itertools.count(b.thread_counter).__next__
    # Standard-library modules whose attributes a program may patch (json.dumps = ...): their globals
    # are put back after each program. Third-party packages initialise lazily into their globals and
    # are left alone (docs/differences.md).
    stdlib = os.path.dirname(os.__file__)
    b.std_modules = [
        (name, m, dict(vars(m)))
        for name, m in sys.modules.items()
        if name not in ("sys", "builtins", "__main__")
        and isinstance(m, types.ModuleType)
        and _is_stdlib(m, stdlib)
    ]
    b.std_dicts = [vars(m) for _, m, _ in b.std_modules]
    # weakref.finalize registers its exit hook once per process; every program starts without it
    # (prepare() clears the preloads' exit handlers), which the class snapshot below then keeps.
    weakref.finalize._registered_with_atexit = False
    # The finalizers pending now belong to the preloads: no program's exit runs them.
    b.finalizers = {id(f) for f in weakref.finalize._registry}
    # Their classes too (threading.Thread.run = ..., enum.Enum.x = 1): a class's own dict, watched
    # by its version tag like the module globals.
    b.std_classes = _std_classes(b.std_modules)
    b.class_dicts = [d for _, d, _ in b.std_classes]
    b.abc_token = sys.modules["abc"].get_cache_token() if "abc" in sys.modules else None
    registries = ((cls, _registered(cls)) for cls, _, _ in b.std_classes)
    b.abc_registries = {id(cls): registered for cls, registered in registries if registered is not None}
    b.torch = _capture_torch()
    b.stdio = [(s.encoding, s.errors) if s is not None else ("utf-8", "strict") for s in (sys.stdin, sys.stdout, sys.stderr)]
    # config.buffered_stdio (off with -u or PYTHONUNBUFFERED) is not in sys.flags; the zygote's own
    # stdout, made by create_stdio() from that setting, says it.
    b.buffered_stdio = not getattr(sys.stdout, "write_through", False)
    b.zygote_versions = _dict_versions(b.std_dicts)
    b.zygote_class_versions = _dict_versions(b.class_dicts)
    _base = b
    # Objects that exist now live as long as the zygote: keep them out of every later collection, so a
    # collection between programs costs what the program allocated, not what the preloads did.
    gc.collect()
    gc.freeze()


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class a program can change (built-in types refuse)


def _std_classes(std_modules):
    """(class, its own dict, a copy of it) for every class defined in a standard module: the dict
    behind `cls.__dict__` (a read-only proxy) is the one attribute assignment changes."""
    seen = set()
    classes = []
    for _, module, snapshot in std_modules:
        for value in snapshot.values():
            if not isinstance(value, type) or id(value) in seen or not value.__flags__ & _HEAPTYPE:
                continue
            seen.add(id(value))
            inner = [r for r in gc.get_referents(value.__dict__) if type(r) is dict]
            if len(inner) == 1:
                classes.append((value, inner[0], dict(inner[0])))
    return classes


def _is_stdlib(module, stdlib):
    f = getattr(module, "__file__", None)
    if f is None:
        return True  # built-in or frozen
    return isinstance(f, str) and f.startswith(stdlib) and "site-packages" not in f


# Injected by the Rust side: PyErr_WriteUnraisable(obj) for an exception ("Exception ignored in: obj").
_write_unraisable = None

# Injected by the Rust side: a new module object whose namespace is a given dict.
_module_with_dict = None

# Injected by the Rust side: the version tags of a list of dicts (CPython bumps a dict's tag on every
# change), so finding which module globals a program changed costs a list compare.
_dict_versions = None

# Globals of standard modules that runner itself resets each time; not compared with the snapshot.
_MANAGED = {("threading", "_counter")}

_clean_versions = None
_clean_class_versions = None


def executor_started():
    """Called in each new executor: the descriptors it holds now are its own, not a program's leak."""
    global _clean_versions, _clean_class_versions
    b = _base
    b.fds = _open_fds()
    _clean_versions = _dict_versions(b.std_dicts)
    _clean_class_versions = _dict_versions(b.class_dicts)
    # The fork changed some of what the zygote recorded (threading's after-fork handler makes new
    # locks and a new set of shutdown locks): this process's own state is the one to go back to.
    for i, (before, now) in enumerate(zip(b.zygote_versions, _clean_versions)):
        if before != now:
            name, module, _ = b.std_modules[i]
            b.std_modules[i] = (name, module, dict(vars(module)))
    for i, (before, now) in enumerate(zip(b.zygote_class_versions, _clean_class_versions)):
        if before != now:
            cls, d, _ = b.std_classes[i]
            b.std_classes[i] = (cls, d, dict(d))
    # Like `random`'s at-fork reseed: a forked child must not repeat its siblings' random numbers.
    if _base.torch is not None and _base.torch.random_seed:
        _reseed_torch(_base.torch)


def _is_installed_package(module):
    f = getattr(module, "__file__", None)
    return isinstance(f, str) and ("/site-packages/" in f or "/dist-packages/" in f)


def _restore_std_classes():
    """Puts back every attribute of a standard-library class that the program added, removed or
    rebound, through setattr and delattr, so that the class's slots and caches follow. Returns why the
    executor cannot go on, or None."""
    global _clean_class_versions
    now = _dict_versions(_base.class_dicts)
    if now == _clean_class_versions:
        return None
    missing = object()
    for before, after, (cls, d, snapshot) in zip(_clean_class_versions, now, _base.std_classes):
        if before == after:
            continue
        try:
            for key in [k for k in d if k not in snapshot]:
                delattr(cls, key)
            for key, value in snapshot.items():
                if d.get(key, missing) is not value:
                    setattr(cls, key, value)
        except (AttributeError, TypeError) as e:
            return f"cannot restore the class {cls.__module__}.{cls.__qualname__} ({e})"
    _clean_class_versions = _dict_versions(_base.class_dicts)
    return None


def _registered(cls):
    """The classes registered as virtual subclasses of an ABC (None for a class that is not one)."""
    try:
        registry = sys.modules["_abc"]._get_dump(cls)[0]
    except (KeyError, TypeError, AttributeError):
        return None
    return {ref() for ref in registry} - {None}


def _check_abc_registries():
    """Some ABC gained a virtual subclass. One of a standard-library ABC (collections.abc.Set.register
    (dict) changes what isinstance says, and sets flags on the registered class) cannot be taken back,
    unless an installed package did it for a class of its own: that is library state, which stays
    with the package (docs/differences.md). Returns why the executor cannot go on, or None."""
    b = _base
    for cls, _, _ in b.std_classes:
        before = b.abc_registries.get(id(cls))
        if before is None:
            continue
        now = _registered(cls) or set()
        for new in now - before:
            module = getattr(new, "__module__", None)
            # A class of a library (an installed package or what it imported) registered by that
            # library's import is library state.
            if module not in b.library_modules and not _is_installed_package(sys.modules.get(module)):
                return f"the program registered {new!r} with {cls.__module__}.{cls.__qualname__}"
        b.abc_registries[id(cls)] = now
    b.abc_token = sys.modules["abc"].get_cache_token()
    return None


def _callback_module(func):
    """The name of the module that defined a callback (through partials and bound methods)."""
    while isinstance(func, functools.partial):
        func = func.func
    func = getattr(func, "__func__", func)
    module = getattr(func, "__module__", None)
    return module if isinstance(module, str) else None


def _library_modules(added):
    """Which of the modules a program added to sys.modules stay (_library_closure()), from now on
    watched and restored like the zygote's."""
    keep = _library_closure(added)
    modules = sys.modules
    for name in keep:
        if name not in _base.zygote_modules and not _is_installed_package(modules[name]):
            _watch_std_module(name, modules[name])
    # A parent package keeps its attribute for the submodule that stays (`collections.abc`): the
    # import system sets it only when it loads the submodule, which it will not do again.
    snapshots = {name: snapshot for name, _, snapshot in _base.std_modules}
    for name in keep:
        parent, _, child = name.rpartition(".")
        snapshot = snapshots.get(parent)
        if snapshot is not None and snapshot.get(child) is not modules[name]:
            snapshot[child] = modules[name]
    _base.library_modules.update(keep)
    return keep


def _library_closure(added):
    """Which of the modules a program added to sys.modules stay, as if preloaded. An installed
    package (and its C state) cannot be unloaded, and importing it a second time in one process is
    not what a fresh python does (numpy warns "reloaded", torch registers its operators twice): what a
    program imported from site-packages stays. So do the standard-library modules such a package
    imported (decimal for torch's compiler): they are part of its machinery, and a second copy of one
    would give the package's objects and the next program's different classes. They are found by
    reference, from the packages' globals (a module, or the `__module__` of a class or function)."""
    modules = sys.modules
    keep = [n for n in added if _is_installed_package(modules.get(n))]
    if not keep:
        return keep
    candidates = {n for n in added if n not in keep and isinstance(modules.get(n), types.ModuleType)}
    pending = list(keep)
    while pending and candidates:
        module = modules.get(pending.pop())
        for value in list(getattr(module, "__dict__", {}).values()):
            # By the exact type only: isinstance() would ask a proxy for its __class__ (torch's
            # deprecated aliases warn when touched).
            kind = type(value)
            if issubclass(kind, types.ModuleType):
                name = vars(value).get("__name__")
            elif issubclass(kind, type):
                name = vars(value).get("__module__")
            elif kind is types.FunctionType or kind is types.BuiltinFunctionType:
                name = value.__module__
            else:
                continue
            # A submodule brings its parent packages.
            while name in candidates:
                candidates.discard(name)
                keep.append(name)
                pending.append(name)
                name = name.rpartition(".")[0]
    return keep


def _watch_std_module(name, module):
    """A standard-library module kept as a library's machinery is restored after each program from
    now on, like the zygote's (its globals, its classes and their ABC registries)."""
    b = _base
    b.std_modules.append((name, module, dict(vars(module))))
    b.std_dicts.append(vars(module))
    # Only the new entries' versions: the program's changes to the others are still to be undone.
    _clean_versions.extend(_dict_versions([vars(module)]))
    classes = _std_classes(b.std_modules[-1:])
    b.std_classes.extend(classes)
    b.class_dicts.extend(d for _, d, _ in classes)
    _clean_class_versions.extend(_dict_versions([d for _, d, _ in classes]))
    for cls, _, _ in classes:
        registered = _registered(cls)
        if registered is not None:
            b.abc_registries[id(cls)] = registered


def _restore_std_modules():
    """Puts back every global of a standard module that the program added, removed or rebound."""
    now = _dict_versions(_base.std_dicts)
    if now == _clean_versions:
        return
    missing = object()
    for i, (before, after) in enumerate(zip(_clean_versions, now)):
        if before == after:
            continue
        name, module, snapshot = _base.std_modules[i]
        d = vars(module)
        for key in [k for k in d if k not in snapshot and (name, k) not in _MANAGED]:
            del d[key]
        for key, value in snapshot.items():
            if (name, key) not in _MANAGED and d.get(key, missing) is not value:
                d[key] = value


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
    global _streams
    _streams = tuple(streams)
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams
    # threading's main-thread object keeps the sys.stderr of the moment threading was imported (for its
    # exception hook), which in python, where the program imports threading, is the program's own.
    threading._main_thread._stderr = streams[2]


def prepare(path, args, env):
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
    # set_main_loader() in pythonrun.c: a script's loader is a SourceFileLoader.
    d["__loader__"] = sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", path)
    d["__file__"] = path
    d["__cached__"] = None
    sys.modules["__main__"] = main
    global _main_ref, _probe_ref
    _main_ref = weakref.ref(main)
    _probe_ref = None
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
    stderr = getattr(sys, "stderr", None)
    try:
        if stderr is not None:
            # PyFile_WriteObject(value, sys.stderr, Py_PRINT_RAW); a failure is dropped.
            stderr.write(str(value))
        else:
            # PyObject_Print(value, stderr, Py_PRINT_RAW): C's unbuffered stderr.
            os.write(2, str(value).encode(errors="backslashreplace"))
    except BaseException:
        pass
    # PySys_WriteStderr("\n"): to sys.stderr, or to C's stderr when that fails (sys_write()).
    try:
        sys.stderr.write("\n")
    except BaseException:
        try:
            os.write(2, b"\n")
        except OSError:
            pass
    return 1


def _quiet_threads():
    """True when the program left no thread running but threads of installed libraries (the pool
    workers of torch's compiler, tqdm's monitor): those belong to library state that persists in the
    warm executor, as they persist in any long-lived python process. A library thread is one that code
    of an installed package started (state.rs's thread-start watch saw it), or a daemon thread whose
    target is such code."""
    global _library_started
    main = threading.main_thread()
    for t in threading.enumerate():
        if t is main or t in _accepted_threads:
            continue
        if t in _library_threads or (t.daemon and _is_library_thread(t)):
            _accepted_threads.add(t)
            _library_started = True
            continue
        return False
    return True


# Threads that installed packages started (state.rs's thread-start watch adds them): library
# machinery, like torch's compile-worker pool, that stays with the warm executor.
_library_threads = weakref.WeakSet()

# Exit handlers that installed packages registered, (func, args, kwargs) (the Rust side's
# atexit.register puts them here): library machinery that a warm program's exit leaves alone.
_library_exit_handlers = []

# The library threads already accepted as part of the executor.
_accepted_threads = weakref.WeakSet()

# The standard library's directory: code there neither starts nor owns anything on its own.
_STDLIB = os.path.dirname(os.__file__)

# Set when the current program started a library thread (a worker pool): the pipes and sockets the
# pool opened with it are library state too.
_library_started = False


def _is_library_thread(thread):
    target = getattr(thread, "_target", None)
    module = getattr(target, "__module__", None) or type(thread).__module__
    return _is_installed_package(sys.modules.get(module))


def _run_library_exit_handlers():
    """At the process's real end, the exit handlers of installed packages run as python runs them
    (newest first, after the program's, which are newer), an error reported as atexit reports it."""
    while _library_exit_handlers:
        func, args, kwargs = _library_exit_handlers.pop()
        try:
            func(*args, **kwargs)
        except BaseException as e:
            _write_unraisable(_without_our_frames(e), func)


def _hold_library_finalizers():
    """weakref.finalize's exit hook runs every pending finalizer at exit. Those of the zygote's
    preloads and of installed packages (torch's operator libraries, which unregister their operators)
    are library state that outlives the program in a warm executor: they are held back from the
    program's exit (their `atexit` flag off for its duration) and stay pending. Returns what to turn
    back on."""
    held = []
    zygote = _base.finalizers
    for f, info in list(weakref.finalize._registry.items()):
        if info.atexit and (id(f) in zygote or _is_library_callback(info.func)):
            info.atexit = False
            held.append(info)
    return held


def _is_library_callback(func):
    """Whether a finalizer's callback is library machinery. The compiler's own (dynamo's guards
    invalidate compiled code when what they guard dies) belong to the compiled program, which is
    program state: they run at its exit, as in python."""
    module = _callback_module(func)
    if module is None or module.startswith("torch._dynamo"):
        return False
    return _is_installed_package(sys.modules.get(module))


class _NotMainThread:
    """Stands in for threading's main thread while its _shutdown() runs the program's exit hooks in an
    executor that goes on: the real main thread is then neither stopped nor waited for."""

    _is_stopped = False
    ident = None


def _run_threading_atexits():
    """The exit hooks that modules the program imported registered with threading (such as
    concurrent.futures' `_python_exit`), run by threading._shutdown() itself, newest first, so that an
    error in one reads as in python; then the list is as it was. Only called when no other thread is
    left, so none of them waits and nothing is joined."""
    hooks = getattr(threading, "_threading_atexits", None)
    if hooks is None or hooks == _base.threading_atexits:
        return
    # Those of library machinery (concurrent.futures' hook, when a package's pool imported it) are
    # left alone: they would shut down the pools that stay with the executor.
    modules = sys.modules
    library = set(_library_closure([n for n in modules if n not in _base.modules]))
    own = [h for h in hooks[len(_base.threading_atexits):] if _callback_module(h) not in library]
    if not own:
        return
    main = threading._main_thread
    threading._threading_atexits = own
    threading._main_thread = _NotMainThread
    try:
        threading._shutdown()
    finally:
        threading._main_thread = main
        threading._threading_atexits = hooks
        threading._SHUTTING_DOWN = False
    # The list keeps the hooks (and what they refer to, maybe __main__) until _restore(), as python's
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


# Extension modules whose C state outlives their module objects (faulthandler's handlers, tracing of
# allocations, socket's default timeout): _restore() resets that state through them even when the
# program imported them and they are gone from sys.modules.
_C_STATE_MODULES = ("faulthandler", "_tracemalloc", "_socket")
_c_state = {}


def _restore_builtins():
    """The builtins module's dict as it was, unless it is (the same objects under the same names, in
    the same order: compared by identity, in C)."""
    bd = builtins.__dict__
    b = _base
    if len(bd) != len(b.builtin_ids) or list(map(id, bd.values())) != b.builtin_ids or bd.keys() != b.builtins.keys():
        bd.clear()
        bd.update(b.builtins)


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
    _restore_builtins()
    b = _base
    modules = sys.modules
    order = list(modules)
    saved_modules = dict(modules)
    if saved_modules.get("__main__") is _main_ref() is not None:
        del saved_modules["__main__"]
    # Extension modules whose C state outlives their module objects, kept for _restore().
    _c_state.update((name, modules[name]) for name in _C_STATE_MODULES if name in modules)
    # Modules the program imported go too (python empties sys.modules), unless they come from an
    # installed package (those stay, docs/differences.md); they are put back afterwards if they live.
    dropped = {}
    for name in modules.keys() - b.modules.keys():
        module = saved_modules.get(name)
        if module is not None and not _is_installed_package(module):
            try:
                dropped[name] = weakref.ref(module)
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
        gc.collect()
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
            for referrer in gc.get_referrers(probe):
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
    modules = {id(vars(m)): name for name, m in list(sys.modules.items()) if isinstance(m, types.ModuleType)}
    parent = {id(target): None}
    keep = [target]
    frontier = [target]
    mine = {id(parent), id(keep), id(frontier)}
    end = target
    for _ in range(depth):
        mine.add(id(frontier))
        found = []
        for r in gc.get_referrers(*frontier):
            if id(r) in parent or id(r) in mine or r is found or _is_args(r, frontier):
                continue
            # Which object of the frontier this one refers to: the first one it does.
            referents = {id(x) for x in gc.get_referents(r)}
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
    if _base.debug:
        _marks.append((label, time.perf_counter()))


class Ending:
    """How a program ended, handed to the Rust side, which reads it by name (worker/executor.rs,
    `Ending`): the returncode, whether it was a KeyboardInterrupt (python then dies by SIGINT),
    whether the executor can go on and why not, and whether python's real shutdown must end it."""

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
    if not _base.debug or len(_marks) < 2:
        return None
    text = ", ".join(f"{label} {t - before:.3f} s" for (_, before), (label, t) in zip(_marks, _marks[1:]))
    _marks.clear()
    return text


def end_program(d, how, payload, last):
    """The first half of the end of a program that the Rust side ran: the exit status, then
    Py_FinalizeEx's thread shutdown and atexit handlers. Returns an `Ending`; the Rust side then
    flushes the std files (with no frame of ours on the stack, as at exit) and calls `finalize()`.

    `how` (worker/capi.rs, FileEnd): "returned", the program ran to its end; "raised", an exception
    was printed (payload: it was exactly a KeyboardInterrupt); "system_exit", SystemExit was raised
    (payload: the exception, not printed); "unopenable", the file could not be opened (python exits
    2). With `last`, the process exits after this program, so python's own thread shutdown is used;
    otherwise the executor goes on only if the program left no thread behind and its state can be
    restored.
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
    reusable = not last and _quiet_threads()
    reason = None if reusable or last else "the program left threads running"
    try:
        if reusable:
            _run_threading_atexits()
        else:
            threading._shutdown()
    except BaseException as e:
        # wait_for_thread_shutdown(): PyErr_WriteUnraisable(threading module); the exit goes on.
        _write_unraisable(_without_our_frames(e), threading)
        reusable, reason = False, "a threading exit hook failed"
    _mark("threads")
    held = () if last else _hold_library_finalizers()
    atexit._run_exitfuncs()
    for info in held:
        info.atexit = True
    if last:
        _run_library_exit_handlers()
    _mark("atexit")
    global _probe_ref
    probe = _Probe()
    d[_PROBE_KEY] = probe
    _probe_ref = weakref.ref(probe)
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
    for sig, handler in _base.signals.items():
        if _signal.getsignal(sig) is not handler:
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass
    if gc.isenabled():
        gc.collect()
    _mark("collection")
    # Under gc.DEBUG_SAVEALL python's shutdown keeps whatever its collections find (and all it refers
    # to, the program's streams maybe) in gc.garbage, never finalized: only that shutdown can say
    # which buffered output is lost, so the executor ends with it, __main__ still in place.
    saveall = gc.get_debug() & gc.DEBUG_SAVEALL
    if not saveall and reusable:
        why = _drop_compiled_code()
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
        # What the zygote froze (every preloaded module) is collectable in python's shutdown.
        gc.unfreeze()
        # The std files were flushed (python's first flush, errors reported); Py_FinalizeEx must not
        # flush them again, and finalize_modules() puts sys.__std*__ back in their place.
        sys.stdout = sys.stderr = None
        namespace, module_type = globals(), types.ModuleType
        for key, value in list(namespace.items()):
            if isinstance(value, module_type) or key in ("_base", "_streams", "_c_state"):
                namespace[key] = None
        if saveall:
            reason = "the program left gc.DEBUG_SAVEALL on: python's shutdown decides what is finalized"
        else:
            reason = "the program's __main__ is still referenced after its end"
            if _survivor_chain:
                reason += f" ({_survivor_chain})"
        return Ending(code, kbd, False, reason, True)
    # The original streams die at exit and flush what they hold, even when the program replaced them.
    for stream in _streams:
        try:
            stream.flush()
        except BaseException:
            # What it could not write would reach the next program's output when the stream dies.
            reusable, reason = False, "a standard stream of the program could not be flushed"
    _mark("teardown")
    if not flushed:
        code = 120
    if kbd:
        code = -signal.SIGINT
    if reusable:
        reason = _restore()
        reusable = reason is None
        _mark("restore")
    return Ending(code, kbd, reusable, reason, False)


def _capture_torch():
    """The global state of a preloaded torch that programs commonly change (seeds, default dtype and
    device, grad mode, print options, backend flags, compiler configs). None without torch."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    t = types.SimpleNamespace()
    t.rng = torch.random.get_rng_state()
    # Some torch versions seed the default generator with a fixed number at start-up, others (2.11)
    # from the OS: then every process starts from a different state, and so must every program.
    t.random_seed = torch.initial_seed() != 67280421310721
    t.dtype = torch.get_default_dtype()
    t.grad = torch.is_grad_enabled()
    t.deterministic = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    t.threads = torch.get_num_threads()
    t.matmul_precision = torch.get_float32_matmul_precision()
    t.anomaly = torch.is_anomaly_enabled()
    t.print_opts = dict(vars(torch._tensor_str.PRINT_OPTS))
    t.flags = _torch_flags(torch)
    t.configs = {}
    _capture_torch_configs(t)
    return t


def _torch_flags(torch):
    flags = {}
    for holder, names in (
        (torch.backends.cudnn, ("enabled", "benchmark", "deterministic", "allow_tf32")),
        (torch.backends.cuda.matmul, ("allow_tf32", "allow_fp16_reduced_precision_reduction")),
    ):
        for name in names:
            try:
                flags[(holder, name)] = getattr(holder, name)
            except Exception:
                pass
    return flags


def _capture_torch_configs(t, names=None):
    """Records the overrides of every torch config module not seen before, among `names` (the modules
    a program added) or all of sys.modules. One that appears only after a program imported it is
    recorded as a fresh import leaves it: nothing overridden."""
    modules = sys.modules
    for name in list(modules) if names is None else names:
        module = modules.get(name)
        entries = getattr(module, "_config", None) if type(module).__name__.startswith("ConfigModule") else None
        if isinstance(entries, dict) and name not in t.configs:
            # Fresh: imported by a program, so a fresh interpreter would have it with no override.
            fresh = _base is not None and name not in _base.zygote_modules
            t.configs[name] = (module, {k: (_override(e), False if fresh else e.hide) for k, e in entries.items()}, fresh)


def _override(entry):
    """A config entry's user override; None where torch keeps it per context (newer torch: a
    ContextVar), since every program runs in a context of its own that ends with it."""
    override = entry.user_override
    return None if isinstance(override, contextvars.ContextVar) else override


def _mark_config_dirty(module):
    """Tells a torch config module that its values changed, so that its hash (a key of the compiler's
    caches) is computed again: `_is_dirty` in older torch, per-context dirty flags in newer. Raises
    when this torch has neither: the executor is then replaced rather than risk a stale hash."""
    if "_is_dirty" in getattr(module, "_bypass_keys", ()):
        module._is_dirty = True
        return
    flag = getattr(module, "_hash_dirty_var", None)
    if not isinstance(flag, contextvars.ContextVar):
        raise AttributeError(f"{module.__name__} has no known way to mark its values changed")
    flag.set(True)
    keys = getattr(module, "_get_dict_dirty_keys_var", None)
    if isinstance(keys, contextvars.ContextVar):
        keys.set(None)


def _reseed_torch(t):
    """The random state a fresh process's torch starts with (CUDA's generators too, if started)."""
    torch = sys.modules["torch"]
    if t.random_seed:
        torch.seed()
    else:
        torch.random.set_rng_state(t.rng)
        if torch.cuda.is_initialized():
            torch.cuda.manual_seed_all(torch.initial_seed())


def _drop_compiled_code():
    """What torch's compiler made for the program (compiled code, guards, counters, recompile limits)
    is the program's state. Its guards refer to the program's globals from C structures attached to the
    program's code objects, where the collector cannot see them: python lets go of them only when its
    shutdown clears the modules' dicts. So they are dropped before __main__'s fate is decided, through
    dynamo's own reset ("as if you had started a fresh process"). Returns why the executor cannot go
    on, or None."""
    dynamo = sys.modules.get("torch._dynamo")
    if dynamo is None:
        return None
    utils = sys.modules.get("torch._dynamo.utils")
    # Whether anything was compiled (an unknown torch without the counters: assume so).
    counters = getattr(utils, "counters", None)
    compiled = counters is None or any(counters.values())
    try:
        dynamo.reset()
        if utils is not None:
            utils.counters.clear()
    except Exception as e:
        return f"torch's compiler caches could not be reset ({type(e).__name__}: {e})"
    main = _main_ref()
    if compiled and main is not None:
        # Some guards outlive the reset, referred to from C++ where nothing can release them, and
        # keep the globals they were built over (`{"G": globals}`) alive for good: in python these
        # globals are then never finalized (docs/differences.md). The dead guards are cut off from
        # them, so that the program's objects (its tensors, GPU memory) go with its end as usual.
        g = vars(main)
        for referrer in gc.get_referrers(g):
            if type(referrer) is dict and referrer.get("G") is g:
                referrer["G"] = {}
        g = referrer = None
    main = None
    return None


def _cuda_unusable(torch):
    """Why CUDA cannot serve another program in this process, or None. A device-side assert or an
    illegal address is sticky: every later CUDA call of the process fails with it."""
    cuda = getattr(torch, "cuda", None)
    if cuda is None or not cuda.is_initialized():
        return None
    try:
        cuda.synchronize()
    except Exception as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f"CUDA is unusable after the program ({message})"
    return None


def _restore_torch(t, added):
    """Puts torch's global state back; returns why the executor cannot go on, or None."""
    torch = sys.modules["torch"]
    why = _cuda_unusable(torch)
    if why is not None:
        return why
    _reseed_torch(t)
    if torch.get_default_dtype() != t.dtype:
        torch.set_default_dtype(t.dtype)
    if str(torch.get_default_device()) != "cpu" or getattr(torch._GLOBAL_DEVICE_CONTEXT, "device_context", None):
        torch.set_default_device(None)
    torch.set_grad_enabled(t.grad)
    if (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) != t.deterministic:
        torch.use_deterministic_algorithms(t.deterministic[0], warn_only=t.deterministic[1])
    if torch.get_num_threads() != t.threads:
        torch.set_num_threads(t.threads)
    if torch.get_float32_matmul_precision() != t.matmul_precision:
        torch.set_float32_matmul_precision(t.matmul_precision)
    if torch.is_anomaly_enabled() != t.anomaly:
        torch.set_anomaly_enabled(t.anomaly)
    opts = vars(torch._tensor_str.PRINT_OPTS)
    if opts != t.print_opts:
        opts.clear()
        opts.update(t.print_opts)
    for (holder, name), value in t.flags.items():
        if getattr(holder, name) != value:
            setattr(holder, name, value)
    _capture_torch_configs(t, added)
    unset = sys.modules["torch.utils._config_module"]._UNSET_SENTINEL
    for module, entries, fresh in t.configs.values():
        config = module._config
        changed = False
        for key, (override, hide) in entries.items():
            entry = config.get(key)
            if entry is None:
                continue
            if entry.hide != hide:
                entry.hide = hide
                changed = True
            if isinstance(entry.user_override, contextvars.ContextVar):
                # Set in the program's own context, which is gone with it.
                continue
            want = unset if fresh else override
            if entry.user_override is not want:
                entry.user_override = want
                changed = True
        if changed:
            _mark_config_dirty(module)
    return None


# Devices of GPU drivers: NVIDIA's, DRM render nodes, AMD's KFD.
_DRIVER_DEVICES = ("/dev/nvidia", "/dev/dri/", "/dev/kfd")


def _restore():
    """Puts back the baseline state; returns why the executor cannot be reused, or None."""
    b = _base
    try:
        os.chdir(b.cwd)
    except OSError:
        return "cannot return to the original working directory"
    data = getattr(os.environ, "_data", None)
    if (data != b.environ_data) if data is not None else (os.environ != b.environ):
        os.environ.clear()
        os.environ.update(b.environ)
    os.umask(b.umask)
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) != b.priority:
            os.setpriority(os.PRIO_PROCESS, 0, b.priority)
        if os.sched_getaffinity(0) != b.affinity:
            os.sched_setaffinity(0, b.affinity)
    except OSError as e:
        # Lowering a nice value needs privileges.
        return f"cannot restore the scheduling priority or CPU affinity ({e})"

    # Modules the program imported go; replaced ones come back; a parent package forgets a submodule
    # that is gone, as it never had it in a fresh interpreter. An installed package is different: its
    # C state cannot be unloaded, and running its import code a second time in one process is not what
    # a fresh python does (numpy warns "reloaded", torch registers operators twice). After a program
    # imported one that was not preloaded, the executor is replaced instead.
    modules = sys.modules
    c_state = {name: _c_state.get(name, modules.get(name)) for name in _C_STATE_MODULES}
    _c_state.clear()
    added = [n for n in modules if n not in b.modules]
    adopted = _library_modules(added)
    for name in adopted:
        b.modules[name] = modules[name]
    for name in (n for n in added if n not in b.modules):
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

    _restore_builtins()

    for sig, handler in b.signals.items():
        if _signal.getsignal(sig) is not handler:
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                return f"cannot restore the handler of signal {sig}"
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.set_wakeup_fd(-1)
    if signal.sigpending():
        # A signal the program left blocked and pending would strike as soon as the mask is restored;
        # in python it never arrives.
        return "a blocked signal is pending"
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

    if b.torch is not None:
        try:
            why = _restore_torch(b.torch, added)
        except Exception as e:
            why = f"torch's state could not be restored ({type(e).__name__}: {e})"
        if why is not None:
            return why

    # The C library's time zone follows TZ only when tzset() runs; a program may have changed both.
    time.tzset()
    _restore_std_modules()
    why = _restore_std_classes()
    if why is not None:
        return why
    if b.abc_token is not None and modules["abc"].get_cache_token() != b.abc_token:
        why = _check_abc_registries()
        if why is not None:
            return why
    threading._counter = itertools.count(b.thread_counter).__next__
    hooks = getattr(threading, "_threading_atexits", None)
    if hooks is not None and hooks != b.threading_atexits:
        hooks[:] = b.threading_atexits
    threading.main_thread().name = b.main_thread_name
    if threading.stack_size() != b.stack_size:
        threading.stack_size(b.stack_size)

    if "random" in modules:
        modules["random"].seed()
    faulthandler = c_state["faulthandler"]
    if faulthandler is not None and faulthandler.is_enabled() != b.faulthandler:
        if b.faulthandler:
            faulthandler.enable()
        else:
            faulthandler.disable()
    if c_state["_tracemalloc"] is not None and c_state["_tracemalloc"].is_tracing():
        c_state["_tracemalloc"].stop()
    socket = c_state["_socket"]
    if socket is not None and socket.getdefaulttimeout() != b.socket_timeout:
        socket.setdefaulttimeout(b.socket_timeout)
    if sys.getdlopenflags() != b.dlopenflags:
        sys.setdlopenflags(b.dlopenflags)
    if sys.get_coroutine_origin_tracking_depth() != b.coroutine_depth:
        sys.set_coroutine_origin_tracking_depth(b.coroutine_depth)
    if tuple(sys.get_asyncgen_hooks()) != b.asyncgen_hooks:
        sys.set_asyncgen_hooks(*b.asyncgen_hooks)
    leaked = _open_fds() - b.fds - {0, 1, 2}
    if leaked:
        gc.collect()
        targets = {}
        for fd in sorted(_open_fds() - b.fds - {0, 1, 2}):
            try:
                targets[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                pass  # closed meanwhile (the listing's own descriptor)
        # A GPU driver started by this program (CUDA opens /dev/nvidia*, and with them pipes, sockets
        # and event descriptors of its own), or a library worker pool it started (torch's compile
        # workers), keeps them for the life of the process: they are part of the warm executor from
        # now on, like the driver or the pool. Otherwise a descriptor the program left open
        # would shift the next program's descriptor numbers.
        global _library_started
        if _library_started or any(t.startswith(_DRIVER_DEVICES) for t in targets.values()):
            b.fds.update(targets)
        elif targets:
            fd, target = next(iter(targets.items()))
            return f"the program left file descriptor {fd} open ({target})"
    _library_started = False
    if not _quiet_threads():
        return "threads appeared while restoring"
    if adopted:
        # The packages the program imported now live as long as the executor, like the zygote's
        # preloads: their objects leave the collections too, which otherwise would walk all of
        # torch's compiler at the end of every later program (the garbage of this one is gone).
        gc.freeze()
    global _clean_versions
    _clean_versions = _dict_versions(b.std_dicts)
    return None
