#!/usr/bin/env bash
# GPU probe: where an executor's first (empty) program goes with the issue's preloads against the
# compiler stack preloaded; RUNNER_DEBUG for the phases, PYTHONPROFILEIMPORTTIME for lazy imports.
runner=$1 out=$2
w=$(mktemp -d)
echo pass > $w/e1.py; echo pass > $w/e2.py
for pre in torch,torch._dynamo,torch._inductor torch,torch._dynamo,torch._inductor,torch._inductor.compile_fx; do
  echo "== $pre"
  RUNNER_DEBUG=1 PYTHONPROFILEIMPORTTIME=1 "$runner" batch -q -j 1 --preload $pre -o $w/r.jsonl $w/e1.py $w/e2.py 2>&1 | grep "runner: debug"
  python3 - $w/r.jsonl <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    rows = [x.split("|") for x in r["stderr"].splitlines() if x.startswith("import time:") and "cumulative" not in x]
    rows.sort(key=lambda x: -int(x[1]))
    print(r["program"][-6:], "duration", round(r["duration"], 3), "program_time", round(r["program_time"], 3), "imports", len(rows))
    for x in rows[:15]: print("   ", x[1].strip(), x[2].rstrip())
PY
done
