#!/usr/bin/env bash
# The GPU machine's check and benchmark, run from the project root there (see BENCHMARKS.md):
#   bench/gpu.sh RUNNER OUT_DIR [check|eager|compile]...
# RUNNER is a runner binary built for that machine's Python (../shared/device/build-for-device.sh).
# check:   the embedded engine imports torch from the venv and programs use CUDA under the chosen device
# eager:   torch eager corpus on CUDA, subprocess vs fork vs warm
# compile: torch eager + torch.compile corpus on CUDA (torchfuzz shape), subprocess vs fork vs warm
# peers:   the compile corpus (24 programs, -j 8, fresh compiler caches for each row) run by runner warm,
#          runner subprocess (python prog.py in a pool), and the peers of peers.py (a forkserver with
#          the same preloads, a reused pool); whole-command wall times; compare.py makes the table
# eager-peers: the same for the eager corpus (64 programs, --preload torch)
# wall:    what bounds the whole command's wall time on the compile corpus: the issue's preloads
#          against the compiler stack preloaded (torch._inductor.compile_fx), with and without
#          Inductor's compile-worker pool (TORCHINDUCTOR_COMPILE_THREADS=1), for runner warm and the
#          peers with the same preloads, on 24 programs and at campaign scale (128 programs)
# bytecode: the compiler stack preloaded with runner's bytecode cache (the run that fills it, a run
#          that reads it, --no-bytecode-cache) against the forkserver and reused-pool peers, 24 and 128
#          programs
# torchfuzz: torchfuzz's own programs (contrib/torchfuzz/generate.py over the torchfuzz copy in
#          $TORCHFUZZ, TORCHFUZZ_COUNT seeds from TORCHFUZZ_START, default 0, template TORCHFUZZ_TEMPLATE) run as docs/torchfuzz.md says (warm, the compiler
#          stack preloaded, -j 8, known issues, one retry, HTML report), through `runner serve` with
#          runner_client (the first 16), and as `python prog.py` in a pool of 8; every program's
#          returncode, stdout and stderr compared (bench/torchfuzz_gpu.py); fresh compiler caches
# devices: on a machine with several GPUs, where programs land: runner batch (the policy's candidates,
#          an inherited CUDA_VISIBLE_DEVICES, --devices), runner run/validate, and runner serve for
#          clients with different CUDA_VISIBLE_DEVICES (the per-device executor rule); each program
#          prints what it was given and which GPU (uuid) it used; devices.txt has the counts
# sticky:  a device-side assert followed by a passing CUDA program on the same warm worker
set -uo pipefail
runner=$1 out=$2
shift 2
mkdir -p "$out"
py=$(command -v python3)
work=$(mktemp -d)
wrow() { # name, corpus, result file, then the command; fresh compiler caches; whole-command wall time
  local name=$1 corpus=$2 file=$3; shift 3
  export TORCHINDUCTOR_CACHE_DIR=$work/cache-$name/inductor TRITON_CACHE_DIR=$work/cache-$name/triton
  local t0=$(date +%s.%N)
  "$@" > "$out/wall.$name.log" 2>&1
  "$py" -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(date +%s.%N)" "$t0" > "$file.wall"
  unset TORCHINDUCTOR_CACHE_DIR TRITON_CACHE_DIR
  (cd "$out" && tar czf wall.tgz --exclude=wall.tgz wall* bc* sticky* 2>/dev/null)
}
for step in "$@"; do
  case $step in
  check)
    {
      "$runner" --version
      nvidia-smi -L
      cat > "$work/cuda_check.py" <<'PY'
import os, sys
import torch
x = torch.randn(256, 256, device="cuda")
print("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES"))
print("prefix", sys.prefix, "executable", sys.executable)
print("torch", torch.__version__, torch.__file__)
print("cuda", torch.cuda.is_available(), torch.cuda.device_count(), torch.cuda.get_device_name(0))
print("matmul", round((x @ x.T).trace().item() / 256, 1) > 0)
PY
      for mode in subprocess fork warm; do
        echo "== validate --json --mode $mode"
        "$runner" validate --json --mode "$mode" --preload torch --seed 1 "$work/cuda_check.py"
        echo "== run --mode $mode (CUDA_VISIBLE_DEVICES=0)"
        CUDA_VISIBLE_DEVICES=0 "$runner" run --mode "$mode" --preload torch "$work/cuda_check.py"
      done
    } > "$out/check.txt" 2>&1
    ;;
  eager)
    "$py" bench/make_corpus.py "$work/eager" torch_eager --count 12 --device cuda
    "$runner" bench "$work/eager" --preload torch --repeat 2 \
      --json "$out/gpu_eager.json" --markdown "$out/gpu_eager.md" --chart "$out/gpu_eager.svg" > "$out/gpu_eager.txt" 2>&1
    ;;
  compile)
    "$py" bench/make_corpus.py "$work/compile" torch_compile --count 4 --device cuda
    "$runner" bench "$work/compile" --preload torch,torch._dynamo,torch._inductor --repeat 1 --timeout 300 \
      --json "$out/gpu_compile.json" --markdown "$out/gpu_compile.md" --chart "$out/gpu_compile.svg" > "$out/gpu_compile.txt" 2>&1
    ;;
  peers | eager-peers)
    # The same rows for the compile corpus (24 programs) and the eager corpus (64 programs).
    if [ "$step" = peers ]; then kind=torch_compile n=24 tag=peers pre=torch,torch._dynamo,torch._inductor
    else kind=torch_eager n=64 tag=eager_peers pre=torch; fi
    "$py" bench/make_corpus.py "$work/$tag" $kind --count $n --device cuda
    row() { # name, result file, then the command; fresh compiler caches; whole-command wall time
      local name=$1 file=$2; shift 2
      export TORCHINDUCTOR_CACHE_DIR=$work/cache-$tag-$name/inductor TRITON_CACHE_DIR=$work/cache-$tag-$name/triton
      local t0=$(date +%s.%N)
      "$@" > "$out/$tag.$name.log" 2>&1
      "$py" -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$(date +%s.%N)" "$t0" > "$file.wall"
    }
    row warm "$out/${tag}_warm.jsonl" env RUNNER_DEBUG=1 "$runner" batch -q -j 8 --preload "$pre" --timeout 600 -o "$out/${tag}_warm.jsonl" "$work/$tag"
    if [ "$step" = peers ]; then
      row warm_torch_only "$out/${tag}_warm1.jsonl" env RUNNER_DEBUG=1 "$runner" batch -q -j 8 --preload torch --timeout 600 -o "$out/${tag}_warm1.jsonl" "$work/$tag"
    fi
    row forkserver "$out/${tag}_forkserver.json" "$py" bench/peers.py forkserver -j 8 --preload "$pre" --json "$out/${tag}_forkserver.json" "$work/$tag"/*.py
    row reused "$out/${tag}_reused.json" "$py" bench/peers.py reused -j 8 --preload "$pre" --json "$out/${tag}_reused.json" "$work/$tag"/*.py
    row subprocess "$out/${tag}_subprocess.jsonl" "$runner" batch -q -j 8 --mode subprocess --timeout 600 -o "$out/${tag}_subprocess.jsonl" "$work/$tag"
    unset TORCHINDUCTOR_CACHE_DIR TRITON_CACHE_DIR
    rows=(warm="$out/${tag}_warm.jsonl")
    [ "$step" = peers ] && rows+=("warm, --preload torch"="$out/${tag}_warm1.jsonl")
    "$py" bench/compare.py "${rows[@]}" "forkserver peer"="$out/${tag}_forkserver.json" \
      "reused pool peer (not faithful)"="$out/${tag}_reused.json" \
      "python prog.py, pool of 8"="$out/${tag}_subprocess.jsonl" > "$out/$tag.md"
    ;;
  wall)
    p1=torch,torch._dynamo,torch._inductor p2=torch,torch._dynamo,torch._inductor,torch._inductor.compile_fx
    # What importing the compiler stack costs and whether it stays away from CUDA and threads.
    "$py" - "$p2" > "$out/wall_preload.txt" 2>&1 <<'PY'
import importlib, os, sys, time
for m in sys.argv[1].split(","):
    t = time.perf_counter(); importlib.import_module(m)
    print(f"{m}: {time.perf_counter() - t:.2f} s, threads {len(os.listdir('/proc/self/task'))}")
import torch
print("cuda initialised:", torch.cuda.is_initialized())
PY
    "$py" bench/make_corpus.py "$work/w24" torch_compile --count 24 --device cuda
    "$py" bench/make_corpus.py "$work/w128" torch_compile --count 128 --device cuda
    for n in 24 128; do
      c=$work/w$n rows=()
      for cfg in p1 p2 p2ct1; do
        [ $n = 128 ] && [ $cfg != p2 ] && continue
        pre=$p2 envs=()
        [ $cfg = p1 ] && pre=$p1
        [ $cfg = p2ct1 ] && envs=(TORCHINDUCTOR_COMPILE_THREADS=1)
        f=$out/wall_${n}_${cfg}
        wrow ${n}_${cfg}_warm $c $f.warm.jsonl env "${envs[@]}" RUNNER_DEBUG=1 "$runner" batch -q -j 8 --preload "$pre" --timeout 600 -o $f.warm.jsonl "$c"
        rows+=("warm, $cfg"=$f.warm.jsonl)
        wrow ${n}_${cfg}_forkserver $c $f.forkserver.json env "${envs[@]}" "$py" bench/peers.py forkserver -j 8 --preload "$pre" --json $f.forkserver.json "$c"/*.py
        rows+=("forkserver peer, $cfg"=$f.forkserver.json)
        if [ $cfg = p2 ]; then
          wrow ${n}_${cfg}_reused $c $f.reused.json "$py" bench/peers.py reused -j 8 --preload "$pre" --json $f.reused.json "$c"/*.py
          rows+=("reused pool peer (not faithful), $cfg"=$f.reused.json)
        fi
      done
      "$py" bench/compare.py "${rows[@]}" --against "warm, p2" > "$out/wall_$n.md"
      (cd "$out" && tar czf wall.tgz --exclude=wall.tgz wall* bc* sticky* 2>/dev/null)
    done
    ;;
  bytecode)
    # The compiler stack preloaded (p2) with runner's bytecode cache: the first run of a campaign
    # fills it (and says so), later runs read it; the peers import the same preloads as python
    # would on this machine, which sets PYTHONDONTWRITEBYTECODE. 24 and 128 programs, -j 8.
    p2=torch,torch._dynamo,torch._inductor,torch._inductor.compile_fx
    export RUNNER_CACHE_DIR=$work/runner-cache
    # BC_SIZES: the corpus sizes (the first also gets the run that fills the cache and
    # --no-bytecode-cache); BC_PYTHON=1 adds `python prog.py` in a pool of 8.
    sizes=${BC_SIZES:-24 128} first=${sizes%% *}
    for n in $sizes; do
      "$py" bench/make_corpus.py "$work/w$n" torch_compile --count $n --device cuda
      c=$work/w$n rows=() f=$out/bc_$n
      if [ $n = $first ]; then
        wrow bc_${n}_populate $c $f.populate.jsonl env RUNNER_DEBUG=1 "$runner" batch -q -j 8 --preload "$p2" --timeout 600 -o $f.populate.jsonl "$c"
        rows+=("warm, the run that fills the bytecode cache"=$f.populate.jsonl)
        wrow bc_${n}_nocache $c $f.nocache.jsonl env RUNNER_DEBUG=1 "$runner" batch -q -j 8 --preload "$p2" --no-bytecode-cache --timeout 600 -o $f.nocache.jsonl "$c"
        rows+=("warm, --no-bytecode-cache"=$f.nocache.jsonl)
      fi
      wrow bc_${n}_warm $c $f.warm.jsonl env RUNNER_DEBUG=1 "$runner" batch -q -j 8 --preload "$p2" --timeout 600 -o $f.warm.jsonl "$c"
      rows+=("warm"=$f.warm.jsonl)
      wrow bc_${n}_forkserver $c $f.forkserver.json "$py" bench/peers.py forkserver -j 8 --preload "$p2" --json $f.forkserver.json "$c"/*.py
      rows+=("forkserver peer"=$f.forkserver.json)
      wrow bc_${n}_reused $c $f.reused.json "$py" bench/peers.py reused -j 8 --preload "$p2" --json $f.reused.json "$c"/*.py
      rows+=("reused pool peer (not faithful)"=$f.reused.json)
      if [ "${BC_PYTHON:-0}" = 1 ]; then
        wrow bc_${n}_subprocess $c $f.subprocess.jsonl "$runner" batch -q -j 8 --mode subprocess --timeout 600 -o $f.subprocess.jsonl "$c"
        rows+=("python prog.py, pool of 8"=$f.subprocess.jsonl)
      fi
      "$py" bench/compare.py "${rows[@]}" --against "warm" > "$out/bc_$n.md"
      (cd "$out" && tar czf wall.tgz --exclude=wall.tgz wall* bc* sticky* 2>/dev/null)
    done
    unset RUNNER_CACHE_DIR
    ;;
  torchfuzz)
    tf=$work/torchfuzz n=${TORCHFUZZ_COUNT:-64}
    pre=torch,torch._dynamo,torch._inductor,torch._inductor.compile_fx
    mkdir -p "$tf"
    {
      t0=$(date +%s.%N)
      "$py" contrib/torchfuzz/generate.py --torchfuzz "$TORCHFUZZ" --start "${TORCHFUZZ_START:-0}" --count "$n" --template "${TORCHFUZZ_TEMPLATE:-default}" --out "$tf/programs"
      echo "generate: $n seeds, $("$py" -c "import sys; print(round(float(sys.argv[1]) - float(sys.argv[2]), 1))" "$(date +%s.%N)" "$t0") s"
      export TORCHINDUCTOR_CACHE_DIR=$tf/cache-python/inductor TRITON_CACHE_DIR=$tf/cache-python/triton
      "$py" bench/torchfuzz_gpu.py reference "$tf/programs" "$out/tf_python.json" -j 8 --timeout 150
      export TORCHINDUCTOR_CACHE_DIR=$tf/cache-warm/inductor TRITON_CACHE_DIR=$tf/cache-warm/triton
      t0=$(date +%s.%N)
      "$runner" batch "$tf/programs" --preload "$pre" --timeout 150 -j 8 \
        --known-issues contrib/torchfuzz/known_issues.toml --retries 1 \
        -o "$out/tf_warm.jsonl" --html "$out/tf_report.html" --markdown "$out/tf_report.md" > "$out/tf_warm.txt" 2>&1
      echo "runner batch: exit $?, $("$py" -c "import sys; print(round(float(sys.argv[1]) - float(sys.argv[2]), 1))" "$(date +%s.%N)" "$t0") s"
      export TORCHINDUCTOR_CACHE_DIR=$tf/cache-serve/inductor TRITON_CACHE_DIR=$tf/cache-serve/triton
      "$runner" serve --socket "$tf/serve.sock" --preload "$pre" -j 8 --timeout 150 > "$out/tf_serve.log" 2>&1 &
      server=$!
      for _ in $(seq 300); do [ -S "$tf/serve.sock" ] && break; sleep 0.2; done
      PYTHONPATH=python/runner-client/src "$py" bench/torchfuzz_gpu.py serve "$tf/serve.sock" "$tf/programs" "$out/tf_serve.json" -j 8 --count 16 --timeout 150
      kill -TERM $server; wait $server; echo "runner serve: exit $?"
      unset TORCHINDUCTOR_CACHE_DIR TRITON_CACHE_DIR
      "$py" bench/torchfuzz_gpu.py compare "$out/tf_python.json" "$out/tf_warm.jsonl" "$out/tf_serve.json"
    } > "$out/torchfuzz.txt" 2>&1
    ;;
  devices)
    d=$work/devices
    mkdir -p "$d/progs"
    for i in $(seq -w 1 16); do
      printf 'import os, torch\nx = torch.ones(8, device="cuda")\nprint(os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count(), torch.cuda.get_device_properties(0).uuid, float(x.sum()))\n' > "$d/progs/p$i.py"
    done
    where() { "$py" -c "
import json, sys, collections
c = collections.Counter()
for r in map(json.loads, open(sys.argv[1])):
    s = (r.get('stdout') or '').split() + ['-'] * 4
    c[(str(r.get('device')), s[0], s[1], s[2][:13], r['status'])] += 1
for k, n in sorted(c.items()):
    print('   ', n, 'x device', k[0], '| program saw CVD', k[1], 'count', k[2], 'gpu', k[3], k[4])
" "$1"; }
    {
      nvidia-smi -L
      echo "== batch -j 4 (CUDA_VISIBLE_DEVICES unset)"
      (unset CUDA_VISIBLE_DEVICES; "$runner" batch -q -j 4 --preload torch "$d/progs" -o "$d/b1.jsonl"); where "$d/b1.jsonl"
      echo "== batch -j 4, CUDA_VISIBLE_DEVICES=1"
      CUDA_VISIBLE_DEVICES=1 "$runner" batch -q -j 4 --preload torch "$d/progs" -o "$d/b2.jsonl"; where "$d/b2.jsonl"
      echo "== batch -j 4 --devices 1,0 --mode fork"
      "$runner" batch -q -j 4 --devices 1,0 --mode fork --preload torch "$d/progs" -o "$d/b3.jsonl"; where "$d/b3.jsonl"
      echo "== batch -j 2 --skip-primary-device --mode subprocess"
      (unset CUDA_VISIBLE_DEVICES; "$runner" batch -q -j 2 --skip-primary-device --mode subprocess "$d/progs" -o "$d/b4.jsonl"); where "$d/b4.jsonl"
      echo "== run (unset): the seed's transcript"
      (unset CUDA_VISIBLE_DEVICES; "$runner" run --preload torch "$d/progs/p01.py")
      echo "== validate --json (unset)"
      (unset CUDA_VISIBLE_DEVICES; "$runner" validate --json --preload torch "$d/progs/p01.py")
      echo "== serve -j 2; clients: CUDA_VISIBLE_DEVICES=0, =1, unset, 8 programs each"
      (unset CUDA_VISIBLE_DEVICES; "$runner" serve --socket "$d/s.sock" -j 2 --preload torch -o "$d/serve.jsonl" 2> "$d/serve.log") &
      for _ in $(seq 300); do [ -S "$d/s.sock" ] && break; sleep 0.2; done
      for cvd in 0 1 unset; do
        for i in $(seq -w 1 16 | head -8); do
          if [ $cvd = unset ]; then (unset CUDA_VISIBLE_DEVICES; "$runner" run --server "$d/s.sock" "$d/progs/p$i.py" | grep -E '^Selected|GPU-' | paste -sd' ')
          else CUDA_VISIBLE_DEVICES=$cvd "$runner" run --server "$d/s.sock" "$d/progs/p$i.py" | grep -E '^Selected|GPU-' | paste -sd' '; fi
        done | sort | uniq -c | sed "s/^/    client CVD=$cvd: /"
      done
      pkill -TERM -f "serve --socket $d/s.sock"; wait
      where "$d/serve.jsonl"
      RUNNER_DEBUG=1 "$runner" serve --socket "$d/s2.sock" -j 1 --preload torch 2> "$d/serve2.log" &
      for _ in $(seq 300); do [ -S "$d/s2.sock" ] && break; sleep 0.2; done
      for cvd in 0 0 1 1 0; do echo "    client CVD=$cvd: $(CUDA_VISIBLE_DEVICES=$cvd "$runner" run --server "$d/s2.sock" "$d/progs/p01.py" | grep -E '^Selected|GPU-' | paste -sd' ')"; done
      pkill -TERM -f "serve --socket $d/s2.sock"; wait
      echo "   serve -j 1 debug (executors kept or retired):"; grep -E "retired|kept|started" "$d/serve2.log" | sed 's/^/    /' | head -20
    } > "$out/devices.txt" 2>&1
    ;;
  sticky)
    mkdir -p "$work/sticky"
    printf 'import torch\nx = torch.zeros(4, device="cuda")\nprint(x[torch.tensor([10], device="cuda")].item())\n' > "$work/sticky/1_assert.py"
    printf 'import torch\nprint((torch.ones(4, device="cuda") * 2).sum().item())\n' > "$work/sticky/2_after.py"
    # The assert caught by the program: nothing of the program outlives it, only the broken context.
    printf 'import torch\nx = torch.zeros(4, device="cuda")\ntry:\n    print(x[torch.tensor([10], device="cuda")].item())\nexcept Exception as e:\n    print("caught", type(e).__name__)\n' > "$work/sticky/3_caught.py"
    cp "$work/sticky/2_after.py" "$work/sticky/4_after.py"
    RUNNER_DEBUG=1 "$runner" batch -j 1 --preload torch -o "$out/sticky.jsonl" "$work/sticky" > "$out/sticky.txt" 2>&1
    ;;
  esac
done
