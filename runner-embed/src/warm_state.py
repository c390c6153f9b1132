"""The warm-state registry: every piece of process state that a warm executor puts back between two
programs (or checks, and retires the executor on), as one ordered list of named entries, Python-level
and C-level alike (`REGISTRY`).

An entry captures its part of the baseline once in the zygote (`capture`) or in each new executor
(`started`), may set something up before each program (`prepare`), and restores it after the program
(`restore`, which returns None, or what to say when it cannot: the executor is then retired). A few
entries are also applied at the point of python's own shutdown where python itself puts that state
back (`at`: "signal_fini", where `_PySignal_Fini` lets go of the program's signal handlers; "compiled",
just before `__main__` is torn down; "finalize_modules", where `finalize_restore_builtins` puts the
builtins back); executor.py calls `restore_at()` there, and `restore_all()` after the program's end,
in registry order. The C-level entries (level "c") are implemented in Rust (state.rs), reached through
the `_c` object the zygote injects.

docs/architecture.md lists the entries in this order, and tests/tests/warm_state.rs checks that the
list there, this registry and what the differential fuzzer mutates stay the same.

The zygote loads this file as a private module (never in sys.modules) with a private copy of the
builtins (a program that replaces `builtins.len` does not reach this code), and the module functions it
calls are bound here, at load, before any program exists (`_os.chdir`, not `os.chdir`): a program that
replaces one of them changes what it sees, not what runner does.
"""

import _signal
import builtins
import contextvars
import functools
import gc
import itertools
import os
import signal
import sys
import threading
import time
import types
import warnings
import weakref


# The module attributes this file calls, as they are when it is loaded (before any program).
_os = types.SimpleNamespace(**vars(os))
_sys = types.SimpleNamespace(**vars(sys))
_gc = types.SimpleNamespace(**vars(gc))
# signal's C functions (signal.py's wrappers convert through int() and set(), which a program may have
# replaced in builtins when the signal handlers are put back, before the builtins are).
_sig = types.SimpleNamespace(**vars(_signal))
_thr = types.SimpleNamespace(**vars(threading))
_time = types.SimpleNamespace(**vars(time))
_warnings = types.SimpleNamespace(**vars(warnings))
_getsignal = _signal.getsignal
# threading's globals, as the module has them (its table of running threads).
_threading_tables = vars(threading)

# Injected by the Rust side (worker/capi.rs): the version tags of a list of dicts (CPython bumps a
# dict's tag on every change), so finding which module globals a program changed costs a list compare.
_dict_versions = None

# Injected by the Rust side (state.rs): the C-level entries (`capture(name)`, `restore(name)`, and
# `enter_context()` / `exit_context()` for the context variables).
_c = None


class Baseline:
    """The process state every program must start from, captured in the zygote by the registry's
    entries (and refreshed in each executor by their `started`)."""


_base = None


class Retire:
    """Why an executor cannot take another program, read by name on the Rust side
    (protocol::RetireReason): `kind` ("state": a registry entry could not restore its state, named by
    `entry`; or one of the end-of-program kinds of executor.py), and `detail`, the words for it."""

    __slots__ = ("kind", "entry", "detail")

    def __init__(self, kind, detail=None, entry=None):
        self.kind = kind
        self.detail = detail
        self.entry = entry


class Entry:
    """One named piece of warm state. `level`: "python" or "c" (implemented in state.rs). `cannot`:
    what to say when its restore raises."""

    __slots__ = ("name", "level", "capture", "started", "prepare", "restore", "at", "after", "cannot")

    def __init__(self, name, restore=None, *, capture=None, started=None, prepare=None, at=None, after=True,
                 level="python", cannot=None):
        self.name = name
        self.level = level
        self.capture = capture
        self.started = started
        self.prepare = prepare
        self.restore = restore
        self.at = at
        self.after = after
        self.cannot = cannot or f"cannot restore {name.replace('_', ' ')}"


class _Pass:
    """What one restore pass learns and hands on from entry to entry."""

    def __init__(self):
        # Modules the program added to sys.modules, and those of them that stay as library machinery.
        self.added = []
        self.adopted = []
        # Extension modules whose C state outlives their module objects (keep_c_state()).
        self.c_state = {}
        # The program's __main__ module, while it lives (restore_at()).
        self.main = None


def _apply(entry, p):
    try:
        why = entry.restore(_base, p)
    except Exception as e:
        why = f"{entry.cannot} ({type(e).__name__}: {e})"
    return None if why is None else Retire("state", why, entry.name)


def restore_at(point, main=None):
    """Applies the entries that python itself restores at this point of its shutdown (`main`: the
    program's __main__ module, if it still lives). Returns the first failure (a `Retire`), or None."""
    p = _Pass()
    p.main = main
    failure = None
    for entry in REGISTRY:
        if entry.at == point:
            why = _apply(entry, p)
            failure = failure or why
    return failure


def restore_all():
    """Puts the baseline back after a program, entry by entry in registry order. Returns None when
    the executor can take another program, else a `Retire` naming the entry that could not."""
    p = _Pass()
    p.c_state = {name: _c_state.get(name, _sys.modules.get(name)) for name in _C_STATE_MODULES}
    _c_state.clear()
    for entry in REGISTRY:
        if entry.after and entry.restore is not None:
            why = _apply(entry, p)
            if why is not None:
                return why
    if p.adopted:
        # The packages the program imported now live as long as the executor, like the zygote's
        # preloads: their objects leave the collections too, which otherwise would walk all of
        # torch's compiler at the end of every later program (the garbage of this one is gone).
        _gc.freeze()
    global _clean_versions
    _clean_versions = _dict_versions(_base.std_dicts)
    return None


def capture_baseline(argv0):
    """Records the state of the freshly started, preloaded interpreter. Called once, in the zygote."""
    global _base
    b = Baseline()
    b.argv0 = argv0
    # RUNNER_DEBUG=1: retire reasons carry their evidence (what still refers to a program's __main__).
    b.debug = _os.environ.get("RUNNER_DEBUG", "") not in ("", "0")
    b.stdio = [(s.encoding, s.errors) if s is not None else ("utf-8", "strict") for s in (sys.stdin, sys.stdout, sys.stderr)]
    # config.buffered_stdio (off with -u or PYTHONUNBUFFERED) is not in sys.flags; the zygote's own
    # stdout, made by create_stdio() from that setting, says it.
    b.buffered_stdio = not getattr(sys.stdout, "write_through", False)
    # weakref.finalize registers its exit hook once per process; every program starts without it
    # (executor.prepare() clears the preloads' exit handlers), which the class snapshot then keeps.
    weakref.finalize._registered_with_atexit = False
    # The finalizers pending now belong to the preloads: no program's exit runs them.
    b.finalizers = {id(f) for f in weakref.finalize._registry}
    b.threading_atexits = list(getattr(threading, "_threading_atexits", []))
    for entry in REGISTRY:
        if entry.capture is not None:
            entry.capture(b)
    # What the zygote's standard modules and classes are now, to tell in each executor what its fork
    # changed (_started_stdlib_globals()).
    b.zygote_versions = _dict_versions(b.std_dicts)
    b.zygote_class_versions = _dict_versions(b.class_dicts)
    _base = b
    # Objects that exist now live as long as the zygote: keep them out of every later collection, so a
    # collection between programs costs what the program allocated, not what the preloads did.
    _gc.collect()
    _gc.freeze()


def executor_started():
    """Called in each new executor, before its first program."""
    for entry in REGISTRY:
        if entry.started is not None:
            entry.started(_base)


def prepare_program():
    """Called before each program, first thing: the entries that give each program its own copy."""
    for entry in REGISTRY:
        if entry.prepare is not None:
            entry.prepare(_base)


# ---------------------------------------------------------------------------------------------------
# The process: working directory, environment, umask, scheduling
# ---------------------------------------------------------------------------------------------------


def _capture_cwd(b):
    b.cwd = _os.getcwd()


def _restore_cwd(b, p):
    _os.chdir(b.cwd)


def _capture_environ(b):
    b.environ_object = os.environ
    b.environ = dict(os.environ)
    # What os.environ holds, encoded: comparing it is a dict comparison in C.
    b.environ_data = dict(os.environ._data)


def _restore_environ(b, p):
    environ = b.environ_object
    if environ._data != b.environ_data:
        environ.clear()
        environ.update(b.environ)


def _capture_umask(b):
    b.umask = _os.umask(0o22)
    _os.umask(b.umask)


def _restore_umask(b, p):
    _os.umask(b.umask)


def _capture_priority(b):
    b.priority = _os.getpriority(_os.PRIO_PROCESS, 0)


def _restore_priority(b, p):
    if _os.getpriority(_os.PRIO_PROCESS, 0) != b.priority:
        # Lowering a nice value needs privileges: then the executor retires.
        _os.setpriority(_os.PRIO_PROCESS, 0, b.priority)


def _capture_affinity(b):
    b.affinity = _os.sched_getaffinity(0)


def _restore_affinity(b, p):
    if _os.sched_getaffinity(0) != b.affinity:
        _os.sched_setaffinity(0, b.affinity)


# ---------------------------------------------------------------------------------------------------
# The interpreter: modules, sys, import system, tracing, limits, builtins
# ---------------------------------------------------------------------------------------------------


def _capture_modules(b):
    b.modules = dict(_sys.modules)
    b.zygote_modules = frozenset(_sys.modules)
    # Modules programs imported that stay, as libraries' machinery (_library_modules()).
    b.library_modules = set()


def _restore_modules(b, p):
    # Modules the program imported go; replaced ones come back; a parent package forgets a submodule
    # that is gone, as it never had it in a fresh interpreter. An installed package is different: its
    # C state cannot be unloaded, and running its import code a second time in one process is not what
    # a fresh python does (numpy warns "reloaded", torch registers operators twice): what a program
    # imported from site-packages stays, as if preloaded, with what it imported (_library_modules()).
    modules = _sys.modules
    p.added = [n for n in modules if n not in b.modules]
    p.adopted = _library_modules(p.added)
    for name in p.adopted:
        b.modules[name] = modules[name]
    for name in (n for n in p.added if n not in b.modules):
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


_STD_STREAMS = ("stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__")


def _capture_sys_attributes(b):
    b.sys_attrs = dict(vars(sys))


def _restore_sys_attributes(b, p):
    for name, value in b.sys_attrs.items():
        if getattr(sys, name, None) is not value and name not in _STD_STREAMS:
            try:
                setattr(sys, name, value)
            except (AttributeError, TypeError):
                pass
    for name in [n for n in vars(sys) if n not in b.sys_attrs]:
        delattr(sys, name)


def _capture_import_system(b):
    # The objects, not the attributes: a program may rebind sys.path (sys_attributes puts the original
    # list back first) after changing the list in place.
    b.import_lists = [(lst, list(lst)) for lst in (sys.path, sys.meta_path, sys.path_hooks)]
    b.path_importer_cache = (sys.path_importer_cache, dict(sys.path_importer_cache))


def _restore_import_system(b, p):
    for lst, content in b.import_lists:
        lst[:] = content
    cache, content = b.path_importer_cache
    cache.clear()
    cache.update(content)


def _restore_tracing(b, p):
    _sys.settrace(None)
    _sys.setprofile(None)
    # threading's own hooks for threads started later.
    _thr.settrace(None)
    _thr.setprofile(None)


def _capture_interpreter_limits(b):
    b.recursionlimit = _sys.getrecursionlimit()
    b.switchinterval = _sys.getswitchinterval()
    b.int_max_str_digits = _sys.get_int_max_str_digits() if hasattr(_sys, "get_int_max_str_digits") else None


def _restore_interpreter_limits(b, p):
    _sys.setrecursionlimit(b.recursionlimit)
    _sys.setswitchinterval(b.switchinterval)
    if b.int_max_str_digits is not None:
        _sys.set_int_max_str_digits(b.int_max_str_digits)


def _capture_builtins(b):
    b.builtins = dict(builtins.__dict__)
    b.builtin_ids = list(map(id, b.builtins.values()))


def _builtins_unchanged(b):
    bd = builtins.__dict__
    return len(bd) == len(b.builtin_ids) and list(map(id, bd.values())) == b.builtin_ids and bd.keys() == b.builtins.keys()


def threading_as_started():
    """Whether threading's shutdown would find what it uses as a fresh python has it: the builtins
    and threading's globals as the program found them. Only then may a warm executor skip what
    threading._shutdown() does at exit (stopping the main thread) for a program that left no thread."""
    b = _base
    if not _builtins_unchanged(b):
        return False
    i = b.threading_index
    return i is None or _dict_versions([b.std_dicts[i]])[0] == _clean_versions[i]


def _restore_builtins(b, p):
    """The builtins module's dict as it was, unless it is (the same objects under the same names, in
    the same order: compared by identity, in C)."""
    if not _builtins_unchanged(b):
        bd = builtins.__dict__
        bd.clear()
        bd.update(b.builtins)


# ---------------------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------------------


def _signals():
    """Every signal's handler, as _signal.getsignal() gives it (0 and 1 for SIG_DFL and SIG_IGN, not
    signal.getsignal()'s enum members, whose conversion would dominate the checks after each program)."""
    handlers = {}
    for sig in _sig.valid_signals():
        try:
            handlers[sig] = _getsignal(sig)
        except (ValueError, OSError):
            pass
    return handlers


def _capture_signal_handlers(b):
    b.signals = _signals()


def _restore_signal_handlers(b, p):
    for sig, handler in b.signals.items():
        if _getsignal(sig) is not handler:
            try:
                _sig.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                return f"cannot restore the handler of signal {sig}"
    return None


def _restore_itimer(b, p):
    _sig.setitimer(_sig.ITIMER_REAL, 0)


def _restore_wakeup_fd(b, p):
    _sig.set_wakeup_fd(-1)


def _capture_signal_mask(b):
    b.sigmask = _sig.pthread_sigmask(_sig.SIG_BLOCK, [])


def _restore_signal_mask(b, p):
    if _sig.sigpending():
        # A signal the program left blocked and pending would strike as soon as the mask is restored;
        # in python it never arrives.
        return "a blocked signal is pending"
    _sig.pthread_sigmask(_sig.SIG_SETMASK, b.sigmask)
    return None


# ---------------------------------------------------------------------------------------------------
# The garbage collector and warnings
# ---------------------------------------------------------------------------------------------------


def _capture_gc(b):
    b.gc = (gc.isenabled(), gc.get_threshold(), gc.get_debug(), gc.callbacks, list(gc.callbacks), gc.garbage)


def _restore_gc(b, p):
    enabled, threshold, debug, callbacks, content, garbage = b.gc
    (_gc.enable if enabled else _gc.disable)()
    _gc.set_threshold(*threshold)
    _gc.set_debug(debug)
    callbacks[:] = content
    del garbage[:]


def _capture_warnings(b):
    b.warnings = (warnings.filters, list(warnings.filters), warnings.showwarning, warnings.formatwarning)


def _restore_warnings(b, p):
    filters, content, showwarning, formatwarning = b.warnings
    filters[:] = content
    module = b.modules["warnings"]
    module.filters = filters
    module.showwarning = showwarning
    module.formatwarning = formatwarning
    # Bumping the filters' version empties every module's __warningregistry__, so a warning shown
    # "once" by the previous program shows again, as in a fresh interpreter.
    _warnings._filters_mutated()


# What a function that warns or logs calls: such a function cached with functools.lru_cache (or
# functools.cache) warns once per process, and a fresh python is a new process for every program.
_WARNING_CALLS = frozenset(("warn", "warn_explicit", "warning", "warning_once", "warn_once", "showwarning"))
_lru_cache_wrapper = functools._lru_cache_wrapper


def _warn_once_caches(modules):
    """The functools caches of `modules` that make a function warn (or log) once per process: module
    functions and the functions, static and class methods of the module's own classes, cached with
    lru_cache, whose code calls a warning or logging function (torch: compile_fx._warn_tf32_disabled,
    torch._logging's warning_once, ...). Caches of functions that only compute stay as they are."""
    found = {}
    for module in modules:
        try:
            for cache in _module_warn_once_caches(module):
                found[id(cache)] = cache
        except Exception:
            # A module whose classes answer attribute lookups strangely: not one to look into.
            pass
    return list(found.values())


def _module_warn_once_caches(module):
    namespace = getattr(module, "__dict__", None)
    if type(namespace) is not dict:
        return []
    name = namespace.get("__name__")
    values = list(namespace.values())
    # Types are looked at with type(), never isinstance(), which would read `__class__`: a deprecated
    # module attribute can warn on that (torch.distributed.reduce_op).
    for value in list(values):
        if issubclass(type(value), type) and vars(value).get("__module__") == name:
            values.extend(vars(value).values())
    found = []
    for value in values:
        if type(value) in (staticmethod, classmethod):
            value = value.__func__
        if type(value) is not _lru_cache_wrapper:
            continue
        code = getattr(getattr(value, "__wrapped__", None), "__code__", None)
        if code is not None and not _WARNING_CALLS.isdisjoint(code.co_names):
            found.append(value)
    return found


def _capture_warn_once_caches(b):
    b.warn_once = _warn_once_caches(list(_sys.modules.values()))


def _restore_warn_once_caches(b, p):
    # Packages the program imported that stay (the `modules` entry) are scanned once, when they join.
    if p.adopted:
        known = {id(c) for c in b.warn_once}
        added = _warn_once_caches([b.modules[n] for n in p.adopted if n in b.modules])
        b.warn_once = b.warn_once + [c for c in added if id(c) not in known]
    for cache in b.warn_once:
        if cache.cache_info().currsize:
            cache.cache_clear()


# ---------------------------------------------------------------------------------------------------
# torch (with torch preloaded): CUDA, RNG, defaults, flags, configs, compiled code
# ---------------------------------------------------------------------------------------------------


def _capture_torch(b):
    """The global state of a preloaded torch that programs commonly change (seeds, default dtype and
    device, grad mode, print options, backend flags, compiler configs). None without torch."""
    torch = _sys.modules.get("torch")
    if torch is None:
        b.torch = None
        return
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
    b.torch = t


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
    modules = _sys.modules
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
    torch = _sys.modules["torch"]
    if t.random_seed:
        torch.seed()
    else:
        torch.random.set_rng_state(t.rng)
        if torch.cuda.is_initialized():
            torch.cuda.manual_seed_all(torch.initial_seed())


def _started_torch_random(b):
    # Like `random`'s at-fork reseed: a forked child must not repeat its siblings' random numbers.
    if b.torch is not None and b.torch.random_seed:
        _reseed_torch(b.torch)


def _restore_cuda(b, p):
    """A device-side assert or an illegal address is sticky: every later CUDA call of the process fails
    with it, so such an executor cannot serve another program."""
    if b.torch is None:
        return None
    cuda = getattr(_sys.modules["torch"], "cuda", None)
    if cuda is None or not cuda.is_initialized():
        return None
    try:
        cuda.synchronize()
    except Exception as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f"CUDA is unusable after the program ({message})"
    return None


def _restore_torch_random(b, p):
    if b.torch is not None:
        _reseed_torch(b.torch)


def _restore_torch_defaults(b, p):
    t = b.torch
    if t is None:
        return
    torch = _sys.modules["torch"]
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


def _restore_torch_flags(b, p):
    if b.torch is None:
        return
    for (holder, name), value in b.torch.flags.items():
        if getattr(holder, name) != value:
            setattr(holder, name, value)


def _restore_torch_configs(b, p):
    t = b.torch
    if t is None:
        return
    _capture_torch_configs(t, p.added)
    unset = _sys.modules["torch.utils._config_module"]._UNSET_SENTINEL
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


def _restore_torch_compiled(b, p):
    """What torch's compiler made for the program (compiled code, guards, counters, recompile limits)
    is the program's state. Its guards refer to the program's globals from C structures attached to the
    program's code objects, where the collector cannot see them: python lets go of them only when its
    shutdown clears the modules' dicts. So they are dropped before __main__'s fate is decided, through
    dynamo's own reset ("as if you had started a fresh process")."""
    dynamo = _sys.modules.get("torch._dynamo")
    if dynamo is None:
        return None
    utils = _sys.modules.get("torch._dynamo.utils")
    # Whether anything was compiled (an unknown torch without the counters: assume so).
    counters = getattr(utils, "counters", None)
    compiled = counters is None or any(counters.values())
    try:
        dynamo.reset()
        if utils is not None:
            utils.counters.clear()
    except Exception as e:
        return f"torch's compiler caches could not be reset ({type(e).__name__}: {e})"
    main = p.main
    if compiled and main is not None:
        # Some guards outlive the reset, referred to from C++ where nothing can release them, and
        # keep the globals they were built over (`{"G": globals}`) alive for good: in python these
        # globals are then never finalized (docs/differences.md). The dead guards are cut off from
        # them, so that the program's objects (its tensors, GPU memory) go with its end as usual.
        g = vars(main)
        for referrer in _gc.get_referrers(g):
            if type(referrer) is dict and referrer.get("G") is g:
                referrer["G"] = {}
        g = referrer = None
    main = None
    return None


# ---------------------------------------------------------------------------------------------------
# The standard library: time zone, module globals, classes, ABC registrations, threading, random
# ---------------------------------------------------------------------------------------------------


def _restore_time_zone(b, p):
    # The C library's time zone follows TZ only when tzset() runs; a program may have changed both.
    _time.tzset()


# Globals of standard modules that runner itself resets each time; not compared with the snapshot.
_MANAGED = {("threading", "_counter")}

_clean_versions = None
_clean_class_versions = None

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class a program can change (built-in types refuse)


def _is_stdlib(module, stdlib):
    f = getattr(module, "__file__", None)
    if f is None:
        return True  # built-in or frozen
    return isinstance(f, str) and f.startswith(stdlib) and "site-packages" not in f


def _capture_stdlib_globals(b):
    # Standard-library modules whose attributes a program may patch (json.dumps = ...): their globals
    # are put back after each program. Third-party packages initialise lazily into their globals and
    # are left alone (docs/differences.md).
    stdlib = _os.path.dirname(os.__file__)
    b.std_modules = [
        (name, m, dict(vars(m)))
        for name, m in _sys.modules.items()
        if name not in ("sys", "builtins", "__main__")
        and isinstance(m, types.ModuleType)
        and _is_stdlib(m, stdlib)
    ]
    b.std_dicts = [vars(m) for _, m, _ in b.std_modules]
    b.threading_index = next((i for i, (name, _, _) in enumerate(b.std_modules) if name == "threading"), None)


def _started_stdlib_globals(b):
    global _clean_versions
    _clean_versions = _dict_versions(b.std_dicts)
    # The fork changed some of what the zygote recorded (threading's after-fork handler makes new
    # locks and a new set of shutdown locks): this process's own state is the one to go back to.
    for i, (before, now) in enumerate(zip(b.zygote_versions, _clean_versions)):
        if before != now:
            name, module, _ = b.std_modules[i]
            b.std_modules[i] = (name, module, dict(vars(module)))


def _restore_stdlib_globals(b, p):
    """Puts back every global of a standard module that the program added, removed or rebound."""
    now = _dict_versions(b.std_dicts)
    if now == _clean_versions:
        return
    missing = object()
    for i, (before, after) in enumerate(zip(_clean_versions, now)):
        if before == after:
            continue
        name, module, snapshot = b.std_modules[i]
        d = vars(module)
        for key in [k for k in d if k not in snapshot and (name, k) not in _MANAGED]:
            del d[key]
        for key, value in snapshot.items():
            if (name, key) not in _MANAGED and d.get(key, missing) is not value:
                d[key] = value


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
            inner = [r for r in _gc.get_referents(value.__dict__) if type(r) is dict]
            if len(inner) == 1:
                classes.append((value, inner[0], dict(inner[0])))
    return classes


def _capture_stdlib_classes(b):
    # Their classes too (threading.Thread.run = ..., enum.Enum.x = 1): a class's own dict, watched
    # by its version tag like the module globals.
    b.std_classes = _std_classes(b.std_modules)
    b.class_dicts = [d for _, d, _ in b.std_classes]


def _started_stdlib_classes(b):
    global _clean_class_versions
    _clean_class_versions = _dict_versions(b.class_dicts)
    for i, (before, now) in enumerate(zip(b.zygote_class_versions, _clean_class_versions)):
        if before != now:
            cls, d, _ = b.std_classes[i]
            b.std_classes[i] = (cls, d, dict(d))


def _restore_stdlib_classes(b, p):
    """Puts back every attribute of a standard-library class that the program added, removed or
    rebound, through setattr and delattr, so that the class's slots and caches follow."""
    global _clean_class_versions
    now = _dict_versions(b.class_dicts)
    if now == _clean_class_versions:
        return None
    missing = object()
    for before, after, (cls, d, snapshot) in zip(_clean_class_versions, now, b.std_classes):
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
    _clean_class_versions = _dict_versions(b.class_dicts)
    return None


def _registered(cls):
    """The classes registered as virtual subclasses of an ABC (None for a class that is not one)."""
    try:
        registry = _sys.modules["_abc"]._get_dump(cls)[0]
    except (KeyError, TypeError, AttributeError):
        return None
    return {ref() for ref in registry} - {None}


def _capture_abc_registrations(b):
    b.abc_token = _sys.modules["abc"].get_cache_token() if "abc" in _sys.modules else None
    registries = ((cls, _registered(cls)) for cls, _, _ in b.std_classes)
    b.abc_registries = {id(cls): registered for cls, registered in registries if registered is not None}


def _restore_abc_registrations(b, p):
    """Some ABC gained a virtual subclass. One of a standard-library ABC (collections.abc.Set.register
    (dict) changes what isinstance says, and sets flags on the registered class) cannot be taken back,
    unless an installed package did it for a class of its own: that is library state, which stays
    with the package (docs/differences.md)."""
    if b.abc_token is None or _sys.modules["abc"].get_cache_token() == b.abc_token:
        return None
    for cls, _, _ in b.std_classes:
        before = b.abc_registries.get(id(cls))
        if before is None:
            continue
        now = _registered(cls) or set()
        for new in now - before:
            module = getattr(new, "__module__", None)
            # A class of a library (an installed package or what it imported) registered by that
            # library's import is library state.
            if module not in b.library_modules and not is_installed_package(_sys.modules.get(module)):
                return f"the program registered {new!r} with {cls.__module__}.{cls.__qualname__}"
        b.abc_registries[id(cls)] = now
    b.abc_token = _sys.modules["abc"].get_cache_token()
    return None


def _capture_threading(b):
    # Thread names count from the next number a fresh interpreter would use ("Thread-1").
    b.thread_counter = threading._counter()
    b.main_thread_name = threading.main_thread().name
    b.stack_size = _thr.stack_size()
    threading._counter = itertools.count(b.thread_counter).__next__


def _started_threading(b):
    # threading's after-fork handler gives the executor its own main-thread object.
    b.main_thread = main = threading._main_thread
    # ... and an empty set of shutdown locks, where a fresh python has the main thread's (which its
    # shutdown goes through, as a program's profiler sees).
    locks = getattr(threading, "_shutdown_locks", None)
    lock = getattr(main, "_tstate_lock", None)
    if isinstance(locks, set) and lock is not None and not main.daemon:
        locks.add(lock)


def _restore_threading(b, p):
    module = b.modules["threading"]
    module._counter = itertools.count(b.thread_counter).__next__
    hooks = getattr(module, "_threading_atexits", None)
    if hooks is not None and hooks != b.threading_atexits:
        hooks[:] = b.threading_atexits
    b.main_thread.name = b.main_thread_name
    if _thr.stack_size() != b.stack_size:
        _thr.stack_size(b.stack_size)


def _restore_random(b, p):
    random = _sys.modules.get("random")
    if random is not None:
        random.seed()


# ---------------------------------------------------------------------------------------------------
# C state of extension modules, the interpreter's hooks
# ---------------------------------------------------------------------------------------------------

# Extension modules whose C state outlives their module objects (faulthandler's handlers, tracing of
# allocations, socket's default timeout): their entries reset that state through them even when the
# program imported them and they are gone from sys.modules (executor.py keeps them: keep_c_state()).
_C_STATE_MODULES = ("faulthandler", "_tracemalloc", "_socket")
_c_state = {}


def keep_c_state(modules):
    """Called by __main__'s teardown before it empties sys.modules: the extension modules whose C
    state the restore pass resets."""
    _c_state.update((name, modules[name]) for name in _C_STATE_MODULES if name in modules)


def _capture_faulthandler(b):
    b.faulthandler = _sys.modules["faulthandler"].is_enabled() if "faulthandler" in _sys.modules else False


def _restore_faulthandler(b, p):
    faulthandler = p.c_state["faulthandler"]
    if faulthandler is not None and faulthandler.is_enabled() != b.faulthandler:
        if b.faulthandler:
            faulthandler.enable()
        else:
            faulthandler.disable()


def _restore_tracemalloc(b, p):
    tracemalloc = p.c_state["_tracemalloc"]
    if tracemalloc is not None and tracemalloc.is_tracing():
        tracemalloc.stop()


def _capture_socket_timeout(b):
    b.socket_timeout = _sys.modules["_socket"].getdefaulttimeout() if "_socket" in _sys.modules else None


def _restore_socket_timeout(b, p):
    socket = p.c_state["_socket"]
    if socket is not None and socket.getdefaulttimeout() != b.socket_timeout:
        socket.setdefaulttimeout(b.socket_timeout)


def _capture_dlopen_flags(b):
    b.dlopenflags = _sys.getdlopenflags()


def _restore_dlopen_flags(b, p):
    if _sys.getdlopenflags() != b.dlopenflags:
        _sys.setdlopenflags(b.dlopenflags)


def _capture_coroutine_hooks(b):
    b.coroutine_depth = _sys.get_coroutine_origin_tracking_depth()
    b.asyncgen_hooks = tuple(_sys.get_asyncgen_hooks())


def _restore_coroutine_hooks(b, p):
    if _sys.get_coroutine_origin_tracking_depth() != b.coroutine_depth:
        _sys.set_coroutine_origin_tracking_depth(b.coroutine_depth)
    if tuple(_sys.get_asyncgen_hooks()) != b.asyncgen_hooks:
        _sys.set_asyncgen_hooks(*b.asyncgen_hooks)


# ---------------------------------------------------------------------------------------------------
# Descriptors and threads
# ---------------------------------------------------------------------------------------------------


def _open_fds():
    try:
        return set(int(fd) for fd in _os.listdir("/proc/self/fd"))
    except OSError:
        return set()


def _started_file_descriptors(b):
    # The descriptors a new executor holds are its own, not a program's leak.
    b.fds = _open_fds()


# Devices of GPU drivers: NVIDIA's, DRM render nodes, AMD's KFD.
_DRIVER_DEVICES = ("/dev/nvidia", "/dev/dri/", "/dev/kfd")


def _restore_file_descriptors(b, p):
    global _library_started
    leaked = _open_fds() - b.fds - {0, 1, 2}
    if leaked:
        _gc.collect()
        targets = {}
        for fd in sorted(_open_fds() - b.fds - {0, 1, 2}):
            try:
                targets[fd] = _os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                pass  # closed meanwhile (the listing's own descriptor)
        # A GPU driver started by this program (CUDA opens /dev/nvidia*, and with them pipes, sockets
        # and event descriptors of its own), or a library worker pool it started (torch's compile
        # workers), keeps them for the life of the process: they are part of the warm executor from
        # now on, like the driver or the pool. Otherwise a descriptor the program left open
        # would shift the next program's descriptor numbers.
        if _library_started or any(t.startswith(_DRIVER_DEVICES) for t in targets.values()):
            b.fds.update(targets)
        elif targets:
            fd, target = next(iter(targets.items()))
            return f"the program left file descriptor {fd} open ({target})"
    _library_started = False
    return None


def _restore_threads(b, p):
    if not quiet_threads():
        return "threads appeared while restoring"
    return None


# ---------------------------------------------------------------------------------------------------
# Library machinery: what installed packages a program imported start and keep
# ---------------------------------------------------------------------------------------------------

# The standard library's directory: code there neither starts nor owns anything on its own.
_STDLIB = _os.path.dirname(os.__file__)

# Threads that installed packages started (state.rs's thread-start watch adds them): library
# machinery, like torch's compile-worker pool, that stays with the warm executor.
_library_threads = weakref.WeakSet()

# Exit handlers that installed packages registered, (func, args, kwargs) (the Rust side's
# atexit.register puts them here): library machinery that a warm program's exit leaves alone.
_library_exit_handlers = []

# The library threads already accepted as part of the executor.
_accepted_threads = weakref.WeakSet()

# Set when the current program started a library thread (a worker pool): the pipes and sockets the
# pool opened with it are library state too.
_library_started = False


def is_installed_package(module):
    f = getattr(module, "__file__", None)
    return isinstance(f, str) and ("/site-packages/" in f or "/dist-packages/" in f)


def _is_library_thread(thread):
    target = getattr(thread, "_target", None)
    module = getattr(target, "__module__", None) or type(thread).__module__
    return is_installed_package(_sys.modules.get(module))


def quiet_threads():
    """True when the program left no thread running but threads of installed libraries (the pool
    workers of torch's compiler, tqdm's monitor): those belong to library state that persists in the
    warm executor, as they persist in any long-lived python process. A library thread is one that code
    of an installed package started (state.rs's thread-start watch saw it), or a daemon thread whose
    target is such code."""
    global _library_started
    main = _base.main_thread
    # threading's own tables, not threading.enumerate() (whose list() may be a program's).
    threads = _threading_tables["_active"], _threading_tables["_limbo"]
    for t in (*threads[0].values(), *threads[1].values()):
        if t is main or t in _accepted_threads:
            continue
        if t in _library_threads or (t.daemon and _is_library_thread(t)):
            _accepted_threads.add(t)
            _library_started = True
            continue
        return False
    return True


def callback_module(func):
    """The name of the module that defined a callback (through partials and bound methods)."""
    while isinstance(func, functools.partial):
        func = func.func
    func = getattr(func, "__func__", func)
    module = getattr(func, "__module__", None)
    return module if isinstance(module, str) else None


def _library_modules(added):
    """Which of the modules a program added to sys.modules stay (library_closure()), from now on
    watched and restored like the zygote's."""
    keep = library_closure(added)
    modules = _sys.modules
    for name in keep:
        if name not in _base.zygote_modules and not is_installed_package(modules[name]):
            _watch_std_module(name, modules[name])
    # A parent package keeps its attribute for the submodule that stays (`collections.abc`): the
    # import system sets it only when it loads the submodule, which it will not do again.
    # (The standard library's globals were put back first, without it: it goes back in now too.)
    snapshots = {name: (module, snapshot) for name, module, snapshot in _base.std_modules}
    for name in keep:
        parent, _, child = name.rpartition(".")
        module, snapshot = snapshots.get(parent, (None, None))
        if snapshot is not None and snapshot.get(child) is not modules[name]:
            snapshot[child] = modules[name]
            vars(module)[child] = modules[name]
    _base.library_modules.update(keep)
    return keep


def library_closure(added):
    """Which of the modules a program added to sys.modules stay, as if preloaded. An installed
    package (and its C state) cannot be unloaded, and importing it a second time in one process is
    not what a fresh python does (numpy warns "reloaded", torch registers its operators twice): what a
    program imported from site-packages stays. So do the standard-library modules such a package
    imported (decimal for torch's compiler): they are part of its machinery, and a second copy of one
    would give the package's objects and the next program's different classes. They are found by
    reference, from the packages' globals (a module, or the `__module__` of a class or function)."""
    modules = _sys.modules
    keep = [n for n in added if is_installed_package(modules.get(n))]
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


# ---------------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------------


def _c_entry(name, cannot=None):
    """An entry implemented in Rust (state.rs): captured in each new executor, restored after each
    program."""
    return Entry(
        name,
        lambda b, p: _c.restore(name),
        started=lambda b: _c.capture(name),
        level="c",
        cannot=cannot,
    )


REGISTRY = (
    # First what runner's own code below relies on: the builtins, and the globals and classes of the
    # standard library (a program may have replaced os.unsetenv, which os.environ's methods call).
    Entry("builtins", _restore_builtins, capture=_capture_builtins, at="finalize_modules"),
    Entry("stdlib_globals", _restore_stdlib_globals, capture=_capture_stdlib_globals, started=_started_stdlib_globals),
    Entry("stdlib_classes", _restore_stdlib_classes, capture=_capture_stdlib_classes, started=_started_stdlib_classes),
    Entry("cwd", _restore_cwd, capture=_capture_cwd, cannot="cannot return to the original working directory"),
    Entry("environ", _restore_environ, capture=_capture_environ),
    Entry("umask", _restore_umask, capture=_capture_umask),
    Entry("priority", _restore_priority, capture=_capture_priority, cannot="cannot restore the scheduling priority"),
    Entry("affinity", _restore_affinity, capture=_capture_affinity, cannot="cannot restore the CPU affinity"),
    Entry("modules", _restore_modules, capture=_capture_modules),
    Entry("sys_attributes", _restore_sys_attributes, capture=_capture_sys_attributes),
    Entry("import_system", _restore_import_system, capture=_capture_import_system),
    Entry("tracing", _restore_tracing),
    Entry("interpreter_limits", _restore_interpreter_limits, capture=_capture_interpreter_limits),
    Entry("signal_handlers", _restore_signal_handlers, capture=_capture_signal_handlers, at="signal_fini"),
    Entry("itimer", _restore_itimer),
    Entry("wakeup_fd", _restore_wakeup_fd),
    Entry("signal_mask", _restore_signal_mask, capture=_capture_signal_mask),
    Entry("gc", _restore_gc, capture=_capture_gc),
    Entry("warnings", _restore_warnings, capture=_capture_warnings),
    Entry("warn_once_caches", _restore_warn_once_caches, capture=_capture_warn_once_caches),
    Entry("cuda", _restore_cuda),
    Entry("torch_random", _restore_torch_random, capture=_capture_torch, started=_started_torch_random,
          cannot="torch's random state could not be restored"),
    Entry("torch_defaults", _restore_torch_defaults, cannot="torch's defaults could not be restored"),
    Entry("torch_flags", _restore_torch_flags, cannot="torch's backend flags could not be restored"),
    Entry("torch_configs", _restore_torch_configs, cannot="torch's configs could not be restored"),
    Entry("torch_compiled", _restore_torch_compiled, at="compiled", after=False,
          cannot="torch's compiler caches could not be reset"),
    Entry("time_zone", _restore_time_zone),
    Entry("abc_registrations", _restore_abc_registrations, capture=_capture_abc_registrations),
    Entry("threading", _restore_threading, capture=_capture_threading, started=_started_threading),
    Entry("random", _restore_random),
    Entry("faulthandler", _restore_faulthandler, capture=_capture_faulthandler),
    Entry("tracemalloc", _restore_tracemalloc),
    Entry("socket_timeout", _restore_socket_timeout, capture=_capture_socket_timeout),
    Entry("dlopen_flags", _restore_dlopen_flags, capture=_capture_dlopen_flags),
    Entry("coroutine_hooks", _restore_coroutine_hooks, capture=_capture_coroutine_hooks),
    Entry("file_descriptors", _restore_file_descriptors, started=_started_file_descriptors),
    Entry("threads", _restore_threads),
    # Each program runs in a copy of the executor's context (decimal's current context lives there),
    # left when it is over.
    Entry("context", lambda b, p: _c.exit_context(), prepare=lambda b: _c.enter_context(), level="c",
          cannot="the program's context could not be left"),
    _c_entry("c_environ", "the C environment could not be restored"),
    _c_entry("c_locale", "the C locale could not be restored"),
    _c_entry("rlimits", "a resource limit was lowered and cannot be raised again"),
    _c_entry("audit_hooks", "the program added an audit hook, which cannot be removed"),
)
