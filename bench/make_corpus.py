"""Writes the standard benchmark corpora of runner (used by `cargo xtask bench` and by the GPU run).

    python make_corpus.py OUT_DIR KIND [--count N] [--device cpu|cuda] [--seed S]

KIND is one of: empty, pure_python, numpy, torch_eager, torch_compile. Programs are deterministic per
seed. torch programs follow torchfuzz's shape (../shared/context/torchfuzz.md): seeded inputs, a chain
of ops in `fuzzed_program(..., sentinel)`, eager first; torch_compile then runs
`torch.compile(fullgraph=True, dynamic=True)` and compares with the eager result.
"""

import argparse
import os
import random

UNARY = ["torch.relu", "torch.tanh", "torch.sigmoid", "torch.abs", "torch.neg", "torch.sin", "torch.cos"]
BINARY = ["torch.add", "torch.mul", "torch.sub", "torch.maximum", "torch.minimum"]
REDUCE = ["sum", "mean", "amax"]


def torch_program(rng, device, compile_):
    n, m = rng.choice([4, 8, 16, 32]), rng.choice([4, 8, 16])
    lines = [
        "import torch",
        "",
        f"torch.manual_seed({rng.randrange(1 << 30)})",
    ]
    if device == "cuda":
        lines.append("torch.set_default_device('cuda')")
    if compile_:
        lines.append("torch._dynamo.config.capture_scalar_outputs = True")
    lines += ["", "", "def fuzzed_program(arg_0, arg_1, sentinel):", "    var_0 = arg_0"]
    k = 0
    for _ in range(rng.randint(3, 8)):
        op = rng.random()
        if op < 0.4:
            lines.append(f"    var_{k + 1} = {rng.choice(UNARY)}(var_{k})")
        elif op < 0.8:
            lines.append(f"    var_{k + 1} = {rng.choice(BINARY)}(var_{k}, arg_1)")
        else:
            lines.append(f"    var_{k + 1} = torch.matmul(var_{k}, arg_1.T) @ arg_1 / {n * m}")
        k += 1
    lines.append(f"    return var_{k}.{rng.choice(REDUCE)}(dim=-1) * sentinel")
    lines += [
        "",
        "",
        f"arg_0 = torch.randn({n}, {m})",
        f"arg_1 = torch.randn({n}, {m})",
        "sentinel = torch.tensor(1.0, requires_grad=True)",
        "eager = fuzzed_program(arg_0, arg_1, sentinel)",
        "print('✅ eager success')",
    ]
    if compile_:
        lines += [
            "compiled = torch.compile(fuzzed_program, fullgraph=True, dynamic=True)(arg_0, arg_1, sentinel)",
            "print('✅ compile success')",
            "diff = (eager - compiled).abs().max().item()",
            "assert diff <= 1.0 and diff <= 0.05 * eager.abs().max().item() + 1e-4, diff",
        ]
    return "\n".join(lines) + "\n"


def pure_python_program(rng):
    n = rng.randint(2000, 6000)
    return (
        "import collections\n\n"
        f"words = [str((i * 7919) % {n // 7 + 1}) for i in range({n})]\n"
        "counts = collections.Counter(words)\n"
        "total = sum(int(w) for w in words)\n"
        "print(len(counts), total, counts.most_common(1)[0][1])\n"
    )


def numpy_program(rng):
    n = rng.choice([32, 64, 96])
    return (
        "import numpy as np\n\n"
        f"rng = np.random.default_rng({rng.randrange(1 << 30)})\n"
        f"a = rng.standard_normal(({n}, {n})) + {n} * np.eye({n})\n"
        f"b = rng.standard_normal({n})\n"
        "x = np.linalg.solve(a, b)\n"
        "print(bool(np.allclose(a @ x, b)))\n"
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("kind", choices=["empty", "pure_python", "numpy", "torch_eager", "torch_compile"])
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    for i in range(a.count):
        if a.kind == "empty":
            text = "pass\n"
        elif a.kind == "pure_python":
            text = pure_python_program(rng)
        elif a.kind == "numpy":
            text = numpy_program(rng)
        else:
            text = torch_program(rng, a.device, a.kind == "torch_compile")
        with open(os.path.join(a.out, f"{a.kind}_{i:04d}.py"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
