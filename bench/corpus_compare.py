"""Runs a corpus through `runner batch` in several modes and compares each embedded mode with the
subprocess mode (`python /abs/prog.py`), program by program: returncode, stdout, stderr.

For machines without a Rust toolchain (the GPU machine), where the differential test suite cannot
run: it needs only a runner binary and python.

    python3 bench/corpus_compare.py RUNNER CORPUS_DIR [--preload LIST] [--python PATH] [--modes warm,fork]

Prints one line per differing program and a summary; exits 1 when any program differs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile


def run_batch(runner, corpus, mode, extra, env):
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as out:
        path = out.name
    programs = sorted(
        os.path.join(corpus, name) for name in os.listdir(corpus) if name.endswith(".py")
    )
    cmd = [runner, "batch", "--quiet", "--workers", "1", "--mode", mode, "--timeout", "60",
           "--output", path, *extra, *programs]
    subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env, check=False)
    results = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            results[os.path.basename(r["program"])] = r
    os.unlink(path)
    return results


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runner")
    p.add_argument("corpus")
    p.add_argument("--preload", default="")
    p.add_argument("--python", default=None)
    p.add_argument("--modes", default="warm,fork")
    args = p.parse_args()
    extra = []
    if args.preload:
        extra += ["--preload", args.preload]
    if args.python:
        extra += ["--python", args.python]
    differing = 0
    total = 0
    for unbuffered in (False, True):
        env = dict(os.environ)
        env.pop("PYTHONUNBUFFERED", None)
        if unbuffered:
            env["PYTHONUNBUFFERED"] = "1"
        label = "PYTHONUNBUFFERED=1" if unbuffered else "PYTHONUNBUFFERED unset"
        reference = run_batch(args.runner, args.corpus, "subprocess", extra, env)
        for mode in args.modes.split(","):
            results = run_batch(args.runner, args.corpus, mode, extra, env)
            for name, want in sorted(reference.items()):
                total += 1
                got = results.get(name)
                if got is None:
                    differing += 1
                    print(f"{label} {mode} {name}: no result")
                    continue
                fields = [k for k in ("returncode", "stdout", "stderr") if want[k] != got[k]]
                if fields:
                    differing += 1
                    detail = {k: (want[k][-200:] if isinstance(want[k], str) else want[k],
                                  got[k][-200:] if isinstance(got[k], str) else got[k]) for k in fields}
                    print(f"{label} {mode} {name}: {', '.join(fields)} differ: {json.dumps(detail)}")
    print(f"{total} comparisons, {differing} differing")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
