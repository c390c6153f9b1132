"""The GPU machine's torchfuzz check (bench/gpu.sh step `torchfuzz`): torchfuzz's own programs, run
as docs/torchfuzz.md says, compared program by program with `python /abs/prog.py`.

    python torchfuzz_gpu.py reference PROGRAMS_DIR OUT.json [-j N] [--timeout S]
        runs every program as ProgramRunner does (`subprocess.run([python, path])`, stdin from
        /dev/null, output captured), N at a time, and writes {path: {returncode, stdout, stderr}}
    python torchfuzz_gpu.py serve SOCKET PROGRAMS_DIR OUT.json [-j N] [--count K]
        runs the first K programs through `runner serve` with runner_client's ProgramRunner, N
        threads at a time, and writes the same shape
    python torchfuzz_gpu.py compare REFERENCE.json RESULTS.jsonl [SERVE.json] > report.txt
        how many programs got python's returncode, stdout and stderr in each, and every difference
"""

import argparse
import concurrent.futures
import json
import pathlib
import re
import subprocess
import sys
import time


def programs(directory):
    return sorted(str(p.resolve()) for p in pathlib.Path(directory).glob("*.py"))


def reference(args):
    def one(path):
        try:
            r = subprocess.run(
                [sys.executable, path],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=args.timeout,
            )
            return path, {"returncode": r.returncode, "stdout": r.stdout, "stderr": r.stderr}
        except subprocess.TimeoutExpired:
            return path, {"returncode": None, "timed_out": True}

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.j) as pool:
        results = dict(pool.map(one, programs(args.dir)))
    json.dump(results, open(args.out, "w"))
    print(f"reference: {len(results)} programs, -j {args.j}, wall {time.perf_counter() - started:.1f} s")


def serve(args):
    from runner_client import ProgramRunner

    def one(path):
        r = ProgramRunner(args.socket).run(path, timeout=args.timeout)
        return path, {"returncode": r.get("returncode"), "stdout": r.get("stdout"), "stderr": r.get("stderr")}

    chosen = programs(args.dir)[: args.count]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.j) as pool:
        results = dict(pool.map(one, chosen))
    json.dump(results, open(args.out, "w"))
    print(f"serve: {len(results)} programs, {args.j} clients, wall {time.perf_counter() - started:.1f} s")


def normalise(text):
    # runner reports output decoded with universal newlines (README, "Results").
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


# torch's log lines start with the time and the process id (`W1205 19:24:52.776000 2331 path:line]`),
# which differ between any two runs of one program, python's own included.
_LOG_PREFIX = re.compile(r"^([WIEF])\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ ", re.M)


def unstamped(text):
    return _LOG_PREFIX.sub(r"\1<time> <pid> ", normalise(text))


def compare(args):
    want = json.load(open(args.reference))
    records = {}
    for line in open(args.results):
        r = json.loads(line)
        if "program" in r:
            records[r["program"]] = r  # the latest record of each program
    rows = [("runner batch (warm)", records)]
    if args.serve:
        rows.append(("runner serve + runner_client", json.load(open(args.serve))))
    statuses = {}
    for r in records.values():
        statuses[r.get("status")] = statuses.get(r.get("status"), 0) + 1
    print(f"python: {len(want)} programs; returncodes {sorted(set(str(w['returncode']) for w in want.values()))}")
    print(f"runner batch statuses: {dict(sorted(statuses.items()))}")
    for name, got in rows:
        same = stamped = differ = 0
        for path, w in want.items():
            if path not in got:
                continue
            g = got[path]
            pairs = [(k, w.get(k), g.get(k)) for k in ("returncode", "stdout", "stderr")]
            exact = all((normalise(a) == normalise(b) if k != "returncode" else a == b) for k, a, b in pairs)
            bad = [
                (k, a, b)
                for k, a, b in pairs
                if (unstamped(a) != unstamped(b) if k != "returncode" else a != b)
            ]
            if bad:
                differ += 1
                for k, a, b in bad:
                    print(f"  DIFFERS {name}: {pathlib.Path(path).name} {k}: python {str(a)[-400:]!r} runner {str(b)[-400:]!r}")
            elif exact:
                same += 1
            else:
                stamped += 1
        missing = sum(p not in got for p in want) if got is records else 0
        print(
            f"{name}: {same} identical, {stamped} identical but for the time and pid of torch's log lines, "
            f"{differ} differ, of {len(got)} run; {missing} without a result"
        )


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("reference")
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("-j", type=int, default=8)
    p.add_argument("--timeout", type=float, default=300)
    p = sub.add_parser("serve")
    p.add_argument("socket")
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("-j", type=int, default=8)
    p.add_argument("--count", type=int, default=16)
    p.add_argument("--timeout", type=float, default=300)
    p = sub.add_parser("compare")
    p.add_argument("reference")
    p.add_argument("results")
    p.add_argument("serve", nargs="?")
    args = parser.parse_args()
    {"reference": reference, "serve": serve, "compare": compare}[args.what](args)


if __name__ == "__main__":
    main()
