#!/usr/bin/env bash
# The GPU machine's check and benchmark, run from the project root there (see BENCHMARKS.md):
#   bench/gpu.sh RUNNER OUT_DIR [check|eager|compile]...
# RUNNER is a runner binary built for that machine's Python (../shared/device/build-for-device.sh).
# check:   the embedded engine imports torch from the venv and programs use CUDA under the chosen device
# eager:   torch eager corpus on CUDA, subprocess vs fork vs warm
# compile: torch eager + torch.compile corpus on CUDA (torchfuzz shape), subprocess vs fork vs warm
set -uo pipefail
runner=$1 out=$2
shift 2
mkdir -p "$out"
py=$(command -v python3)
work=$(mktemp -d)
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
  esac
done
