"""Puts runner's batches and the peers (peers.py) of one benchmark invocation side by side:

    python compare.py NAME=FILE... [--against warm]

FILE is a `runner batch --output` JSONL (a runner mode, or subprocess: `python prog.py` in a pool of
-j workers) or a peers.py JSON, each with a `.wall` file beside it holding the whole command's wall
time in seconds. Prints a Markdown table: program median, wall, programs/s, failures, and the ratios
of the row named by --against to every other row (per program and for the whole command).
"""

import argparse
import json
import os
import statistics


def load(path):
    if path.endswith(".jsonl"):
        records = [json.loads(line) for line in open(path) if line.strip()]
    else:
        records = json.load(open(path))["programs"]
    wall_file = path + ".wall"
    wall = float(open(wall_file).read()) if os.path.exists(wall_file) else float("nan")
    durations = [r["duration"] for r in records]
    failures = sum(1 for r in records if r.get("returncode") != 0)
    return {"median": statistics.median(durations) if durations else float("nan"), "wall": wall,
            "n": len(records), "failures": failures}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("rows", nargs="+", help="NAME=FILE")
    p.add_argument("--against", default="warm")
    a = p.parse_args()
    rows = {}
    for spec in a.rows:
        name, _, path = spec.partition("=")
        rows[name] = load(path)
    me = rows[a.against]
    print(f"| configuration | program median | wall | programs/s | failures | {a.against}: per program | {a.against}: wall |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in rows.items():
        ratio = "" if name == a.against else f"{r['median'] / me['median']:.1f}x"
        wall_ratio = "" if name == a.against else f"{r['wall'] / me['wall']:.1f}x"
        print(f"| {name} | {r['median']:.2f} s | {r['wall']:.1f} s | {r['n'] / r['wall']:.2f} | {r['failures']} of {r['n']} | {ratio} | {wall_ratio} |")


if __name__ == "__main__":
    main()
