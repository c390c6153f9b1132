#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
# Part of runner (our code, under runner's licence). It imports PyTorch's torchfuzz and calls its
# functions; it contains no torchfuzz code. torchfuzz itself is PyTorch's (BSD-3-Clause).
"""Write torchfuzz programs for a range of seeds to disk, without running them.

    python generate.py --torchfuzz DIR --start S --count N --out OUTDIR \\
        [--template default] [--supported-ops SPEC] [--max-depth D]

DIR is the directory that contains the ``torchfuzz`` package (pytorch/tools/experimental). For each
seed S..S+N-1 this does what ``python fuzzer.py --seed <seed>`` does up to the point where fuzzer.py
writes /tmp/torchfuzz/fuzz_<md5>.py (same steps, same order, same RNG seeding, --supported-ops
parsed by fuzzer.py's own parser), and writes the program to OUTDIR/seed_<seed>.py instead. It does
not run the programs: ``runner batch`` runs them later, many per interpreter start. One process and
one ``import torch`` serve all seeds, where fuzzer.py starts a fresh Python for each.

A seed whose generation raises is reported on stderr (seed and exception) and skipped, as fuzzer.py
would fail that seed; the exit status is then 1. VERIFIED.md says against which torchfuzz this was
checked byte for byte. torchfuzz itself is not reproducible across processes for programs with
cat, chunk or split (it seeds their shapes with the hash of a torch.dtype, an address): two runs,
of fuzzer.py or of this script, can write different programs for such a seed, so keep the files.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Write torchfuzz programs for seeds S..S+N-1 to OUTDIR/seed_<seed>.py, "
        "without running them."
    )
    parser.add_argument(
        "--torchfuzz", required=True, type=Path, metavar="DIR",
        help="directory that contains the torchfuzz package (pytorch/tools/experimental)",
    )
    parser.add_argument("--start", required=True, type=int, metavar="S", help="first seed")
    parser.add_argument("--count", required=True, type=int, metavar="N", help="number of seeds")
    parser.add_argument(
        "--out", required=True, type=Path, metavar="OUTDIR", help="where to write seed_<seed>.py"
    )
    parser.add_argument(
        "--template", default="default",
        help="torchfuzz template, as fuzzer.py --template (default: default)",
    )
    parser.add_argument(
        "--supported-ops", metavar="SPEC",
        help="as fuzzer.py --supported-ops: comma-separated torch ops, each optionally =weight",
    )
    parser.add_argument(
        "--max-depth", type=int, metavar="D",
        help="as fuzzer.py --max-depth (default: drawn per seed, as fuzzer.py does)",
    )
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    if not (args.torchfuzz / "torchfuzz" / "__init__.py").is_file():
        parser.error(f"--torchfuzz {args.torchfuzz}: no torchfuzz package in that directory")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    # fuzzer.py puts the directory above itself first on sys.path and imports torchfuzz from there.
    sys.path.insert(0, str(args.torchfuzz.resolve()))
    import torch
    import torchfuzz.codegen as codegen
    from torchfuzz.fuzzer import _parse_supported_ops_with_weights
    from torchfuzz.operators import set_operator_weights
    from torchfuzz.ops_fuzzer import fuzz_operation_graph, fuzz_spec

    # Newer torchfuzz loads its device plugin here (fuzzer.py's main() does it first; idempotent).
    initialize = getattr(codegen, "initialize_codegen", None)
    if initialize is not None:
        initialize()

    # fuzzer.py parses the flag only when it is given and passes no weights when none were parsed.
    supported_ops: list[str] | None = None
    op_weights: dict[str, float] | None = None
    if args.supported_ops:
        supported_ops, weights = _parse_supported_ops_with_weights(args.supported_ops)
        op_weights = weights or None

    args.out.mkdir(parents=True, exist_ok=True)
    seeds = range(args.start, args.start + args.count)
    failed: list[int] = []
    began = time.perf_counter()
    for seed in seeds:
        path = args.out / f"seed_{seed}.py"
        try:
            # The steps of fuzzer.py's fuzz_and_execute, in its order, up to create_program_file.
            if args.max_depth is None:
                random.seed(seed + 999)
                max_depth = random.randint(2, 4)
            else:
                max_depth = max(1, args.max_depth)
            random.seed(seed)
            torch.manual_seed(seed)
            target_spec = fuzz_spec(args.template)
            if op_weights:
                # Global state in torchfuzz's registry, but the same values for every seed, and
                # fuzz_spec (the only step before it) does not read weights: setting it again per
                # seed leaves each seed exactly as a fresh fuzzer.py process would have it.
                set_operator_weights(op_weights)
            graph = fuzz_operation_graph(
                target_spec,
                max_depth=max_depth,
                seed=seed,
                template=args.template,
                supported_ops=supported_ops,
            )
            code = codegen.convert_graph_to_python_code(graph, seed=seed, template=args.template)
        except Exception as e:  # noqa: BLE001 - one seed's failure must not stop the rest
            failed.append(seed)
            path.unlink(missing_ok=True)  # no stale program from an earlier run under this seed
            print(f"seed {seed}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            continue
        # Written as create_program_file writes it (text mode, default encoding), under a temporary
        # name first so that nothing reading OUTDIR sees half a program.
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as f:
            f.write(code)
        os.replace(tmp, path)
    elapsed = time.perf_counter() - began

    written = args.count - len(failed)
    summary = f"{written} written to {args.out} in {elapsed:.1f} s"
    if failed:
        summary += f"; {len(failed)} failed (seeds {', '.join(map(str, failed))})"
    print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
