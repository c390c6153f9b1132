"""What a user would write instead of runner, timed on the same corpus (the benchmark's peers):

    python peers.py forkserver|reused --workers N [--preload a,b] [--json FILE] PROGRAM...

forkserver: a multiprocessing forkserver with `set_forkserver_preload(PRELOAD)` and a fresh child per
            program, running it with runpy as `python prog.py` would (output to files, stdin /dev/null).
reused:     a pool of N processes forked from that forkserver, each running program after program
            with runpy and resetting nothing: not faithful (a program sees what the previous ones
            left), the upper bound on speed.

The preloads are imported as runner's zygote imports them: with PYTORCH_NVML_BASED_CUDA_CHECK=1, so
that torch.cuda.is_available() at import (torch._inductor asks) leaves forked children able to use
CUDA; the programs see the environment as it was given.

Prints one JSON document: per program its duration (seconds from dispatch to its end, as runner's
`duration`) and exit code, the wall time and the time to the first result.
"""

import argparse
import json
import multiprocessing
import os
import queue
import runpy
import sys
import tempfile
import threading
import time


def _run(path, out_dir):
    """Runs one program in this process as `python path` would; returns its exit code."""
    if os.environ.pop("_PEERS_NVML_SET_HERE", None):  # set for the forkserver's preloads only
        del os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"]
    for fd, name, stream in ((1, "stdout", sys.stdout), (2, "stderr", sys.stderr)):
        f = os.open(os.path.join(out_dir, f"{os.path.basename(path)}.{name}"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        stream.flush()
        os.dup2(f, fd)
        os.close(f)
    sys.stdin = open(os.devnull)
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(path))
    code = 0
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.path.pop(0)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    return code


def _child(path, out_dir):
    os._exit(_run(path, out_dir))


def _pool_task(args):
    path, out_dir = args
    start = time.perf_counter()
    code = _run(path, out_dir)
    return path, code, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("peer", choices=["forkserver", "reused"])
    p.add_argument("programs", nargs="+")
    p.add_argument("--workers", "-j", type=int, default=os.cpu_count())
    p.add_argument("--preload", default="")
    p.add_argument("--json")
    a = p.parse_args()
    programs = [os.path.abspath(x) for x in a.programs]
    preload = [m for m in a.preload.split(",") if m]
    out_dir = tempfile.mkdtemp(prefix="peers-")
    start = time.perf_counter()
    ctx = multiprocessing.get_context("forkserver")
    if preload and "PYTORCH_NVML_BASED_CUDA_CHECK" not in os.environ:
        os.environ.update(PYTORCH_NVML_BASED_CUDA_CHECK="1", _PEERS_NVML_SET_HERE="1")
    ctx.set_forkserver_preload(preload)
    results = []
    first = None
    if a.peer == "forkserver":
        jobs = queue.Queue()
        for path in programs:
            jobs.put(path)
        lock = threading.Lock()
        start_lock = threading.Lock()

        def worker():
            nonlocal first
            while True:
                try:
                    path = jobs.get_nowait()
                except queue.Empty:
                    return
                t = time.perf_counter()
                child = ctx.Process(target=_child, args=(path, out_dir))
                with start_lock:  # Process.start() is not safe from several threads at once
                    child.start()
                child.join()
                with lock:
                    first = first or time.perf_counter() - start
                    results.append({"program": path, "returncode": child.exitcode, "duration": time.perf_counter() - t})

        threads = [threading.Thread(target=worker) for _ in range(a.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        with ctx.Pool(a.workers) as pool:
            for path, code, duration in pool.imap_unordered(_pool_task, [(p, out_dir) for p in programs]):
                first = first or time.perf_counter() - start
                results.append({"program": path, "returncode": code, "duration": duration})
    report = {
        "peer": a.peer,
        "workers": a.workers,
        "preload": preload,
        "wall": time.perf_counter() - start,
        "first_result": first,
        "programs": results,
        "output_dir": out_dir,
    }
    text = json.dumps(report, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text)
    print(text if not a.json else f"{a.peer}: {len(results)} programs, wall {report['wall']:.2f} s")


if __name__ == "__main__":
    main()
