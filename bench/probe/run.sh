#!/usr/bin/env bash
# GPU probe: the first compile program of a process under runner warm and under the reused-pool peer.
set -u
runner=$1 out=$2
py=$(command -v python3)
w=$(mktemp -d)
mkdir -p $w/c
for i in 1 2 3 4 5 6 7; do cp bench/probe/phases.py $w/c/p$i.py; done
cp bench/probe/phases.py $w/c/phases.py; cp bench/probe/phases_prof.py $w/c/p0_prof.py
pre=torch,torch._dynamo,torch._inductor
export TORCHINDUCTOR_CACHE_DIR=$w/i1 TRITON_CACHE_DIR=$w/t1
"$runner" batch -q -j 8 --preload $pre -o $out/probe_warm.jsonl $w/c/p*.py > $out/probe_warm.txt 2>&1
export TORCHINDUCTOR_CACHE_DIR=$w/i2 TRITON_CACHE_DIR=$w/t2
"$py" bench/peers.py reused -j 8 --preload $pre --json $out/probe_reused.json $w/c/p*.py > /dev/null 2>&1
d=$("$py" -c "import json;print(json.load(open('$out/probe_reused.json'))['output_dir'])")
for f in $d/*.stdout; do echo "== $f"; cat $f; done > $out/probe_reused.txt
export TORCHINDUCTOR_CACHE_DIR=$w/i3 TRITON_CACHE_DIR=$w/t3
"$runner" batch -q -j 1 --preload $pre -o $out/probe_warm1.jsonl $w/c/p1.py $w/c/p2.py > /dev/null 2>&1
"$py" - <<PY
import json
for n in ["probe_warm", "probe_warm1"]:
    for l in open("$out/" + n + ".jsonl"):
        r = json.loads(l); print(n, r["program"][-12:], round(r["duration"], 2), r["stdout"][:300].replace("\n", " | ")[:300])
PY
grep -h "^import" $out/probe_reused.txt
