# runner fuzz: seed 20261131, program 20268
# behaviours: check.at_fork, check.environ, check.modules, out.print, mutate.builtins, atexit.special, mp.fork, thread.pool, mutate.umask, exit.segfault
import atexit
import builtins
import concurrent.futures
import ctypes
import json
import multiprocessing
import os
import sys
import textwrap
import threading


def mp_child_6(k):
    print("mp child 6", k)
    raise ValueError("child 6 failed")


if __name__ == "__main__":
    pid_0 = os.fork()
    if pid_0 == 0:
        os._exit(0)
    os.waitpid(pid_0, 0)
    print("forked and reaped 0")
    print("environ", sorted((k, v) for k, v in os.environ.items() if k.startswith("FUZZ")), "HOME" in os.environ, os.environ.get("TZ"), os.environ.get("LANG"), "PYTHONUNBUFFERED" in os.environ)
    print("fuzz modules", sorted(m for m in sys.modules if m.startswith("fuzz")))
    for name_2 in ("fuzz_fake_1", "fuzz_fake_2"):
        try:
            __import__(name_2)
            print(name_2, "importable")
        except ImportError as e_2:
            print(e_2)
    print("stdlib", hasattr(textwrap, "fill"), json.dumps([1, 2]), hasattr(json, "fuzz_attr"))
    print("\ufeffbom inside", flush=True)
    print("日本語のテキスト", "tab\tseparated", 42, sep="\n")
    del builtins.input
    print("builtins now", sorted(k for k in dir(builtins) if "fuzz" in k), hasattr(builtins, "input"))
    threading._register_atexit(print, "threading exit hook 5")
    with multiprocessing.get_context("fork").Pool(2) as pool_6:
        print("pool map", pool_6.map(abs, [-1, -2, -3]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool_7:
        print("pool 7", list(pool_7.map(abs, [-1, -2, 3])))
    print("umask was", oct(os.umask(0o027)))
    print("buffered, lost")
    ctypes.string_at(0)
