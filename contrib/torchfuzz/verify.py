#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
# Part of runner (our code, under runner's licence); it runs torchfuzz and contains none of it.
"""Check generate.py against torchfuzz's own fuzzer.py, byte for byte, seed by seed.

    python verify.py --python PY --torchfuzz DIR --seeds 0-29,123456789 [--template T]
                     [--supported-ops SPEC] [--max-depth D] [--stable-hash] [--fuzzer-runs 1]

For each seed it runs ``PY fuzzer.py --seed S [--template T]`` in DIR/torchfuzz as upstream does
(a fresh interpreter per seed), takes the program that run wrote to /tmp/torchfuzz, and compares it
with OUT/seed_S.py from one ``generate.py`` run over the same seeds. fuzzer.py then tries to run the
program; without CUDA that fails at once, which does not matter here (the file is written first).

--stable-hash runs both sides with torchfuzz's operators/layout.py given a ``hash`` that does not
depend on the process: torchfuzz seeds cat/split/chunk/stack choices with
``hash((size, dtype))``, and ``torch.dtype`` hashes by object address, so two fuzzer.py runs of one
seed can write different programs. With the shim, fuzzer.py skips running the program (it exits
after writing it). --fuzzer-runs 2 runs fuzzer.py twice per seed to show that nondeterminism.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROGRAMS = Path("/tmp/torchfuzz")  # where fuzzer.py's create_program_file writes

# Run inside the interpreter under test: torchfuzz's layout operators get a process-independent
# hash, then the script named in argv[2] runs as __main__ with the remaining arguments.
SHIM = r"""
import hashlib, os, runpy, sys
tf_dir, script = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
sys.path.insert(0, tf_dir)
import torchfuzz.operators.layout as layout
layout.hash = lambda obj: int(hashlib.md5(repr(obj).encode()).hexdigest()[:15], 16)
if os.path.basename(script) == "fuzzer.py":
    import torchfuzz.runner
    def _written_not_run(self, path):
        raise SystemExit(0)
    torchfuzz.runner.ProgramRunner.run_program = _written_not_run
runpy.run_path(script, run_name="__main__")
"""


def parse_seeds(spec: str) -> list[int]:
    seeds: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi) + 1) if hi else [int(lo)])
    return seeds


def runs_of(seeds: list[int]) -> list[tuple[int, int]]:
    """Contiguous (start, count) runs of the sorted seeds."""
    out: list[tuple[int, int]] = []
    for s in sorted(set(seeds)):
        if out and out[-1][0] + out[-1][1] == s:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((s, 1))
    return out


def options(args: argparse.Namespace) -> list[str]:
    """The generation options both sides get."""
    rest = ["--template", args.template]
    if args.supported_ops:
        rest += ["--supported-ops", args.supported_ops]
    if args.max_depth is not None:
        rest += ["--max-depth", str(args.max_depth)]
    return rest


def command(args: argparse.Namespace, script: Path, rest: list[str]) -> list[str]:
    if args.stable_hash:
        return [args.python, "-c", SHIM, str(args.torchfuzz.resolve()), str(script), *rest]
    return [args.python, str(script), *rest]


def fuzzer_program(args: argparse.Namespace, seed: int) -> tuple[bytes | None, float]:
    """Runs fuzzer.py for one seed: the program it wrote (None if none) and its wall time."""
    fuzzer = args.torchfuzz.resolve() / "torchfuzz" / "fuzzer.py"
    rest = ["--seed", str(seed), *options(args)]
    began_ns = time.time_ns()
    t0 = time.perf_counter()
    subprocess.run(command(args, fuzzer, rest), cwd=fuzzer.parent, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    wall = time.perf_counter() - t0
    new = [p for p in PROGRAMS.glob("fuzz_*.py") if p.stat().st_mtime_ns >= began_ns - 10_000_000]
    if len(new) != 1:
        return None, wall
    return new[0].read_bytes(), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the interpreter with torch")
    parser.add_argument("--torchfuzz", required=True, type=Path, help="directory with torchfuzz/")
    parser.add_argument("--seeds", required=True, help="e.g. 0-29,123456789")
    parser.add_argument("--template", default="default")
    parser.add_argument("--supported-ops")
    parser.add_argument("--max-depth", type=int)
    parser.add_argument("--stable-hash", action="store_true")
    parser.add_argument("--fuzzer-runs", type=int, default=1)
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)

    out = Path(tempfile.mkdtemp(prefix="torchfuzz-verify-"))
    for start, count in runs_of(seeds):
        rest = ["--torchfuzz", str(args.torchfuzz), "--start", str(start), "--count", str(count),
                "--out", str(out), *options(args)]
        subprocess.run(command(args, HERE / "generate.py", rest), stdin=subprocess.DEVNULL)

    identical = 0
    walls: list[float] = []
    for seed in seeds:
        ours = out / f"seed_{seed}.py"
        mine = ours.read_bytes() if ours.exists() else None
        verdicts = []
        programs: set[bytes | None] = set()
        for _ in range(args.fuzzer_runs):
            theirs, wall = fuzzer_program(args, seed)
            walls.append(wall)
            programs.add(theirs)
            if theirs is None:
                verdicts.append("fuzzer.py wrote no program")
            elif mine is None:
                verdicts.append("generate.py wrote no program")
            else:
                verdicts.append("identical" if theirs == mine else "DIFFERENT")
        if all(v == "identical" for v in verdicts):
            identical += 1
        layout_ops = ""
        if mine is not None:
            ops = ("cat", "split", "chunk", "stack")
            used = [op for op in ops if f"torch.{op}(".encode() in mine]
            layout_ops = f" [uses {', '.join(used)}]" if used else ""
        agree = ""
        if args.fuzzer_runs > 1:
            agree = "; fuzzer.py runs agree" if len(programs) == 1 else "; fuzzer.py runs DIFFER"
        print(f"seed {seed}: {' / '.join(verdicts)}{layout_ops}{agree}", flush=True)

    mode = "stable hash" if args.stable_hash else "stock"
    print(f"{identical}/{len(seeds)} identical ({mode}, {' '.join(options(args))}); "
          f"fuzzer.py {sum(walls) / len(walls):.1f} s per run on average; programs in {out}")
    return 0 if identical == len(seeds) else 1


if __name__ == "__main__":
    sys.exit(main())
