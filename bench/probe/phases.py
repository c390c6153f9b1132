# Where the first compile program of a process spends its time (GPU probe, not a benchmark corpus).
import os, sys, time, threading
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
x = torch.zeros(1, device="cuda")
torch.cuda.synchronize()
t2 = time.perf_counter()
import torch._inductor.config as ic
def f(a, b):
    return (torch.relu(a) * b).sum(dim=-1)
a = torch.randn(8, 8, device="cuda"); b = torch.randn(8, 8, device="cuda")
torch.compile(f, fullgraph=True, dynamic=True)(a, b)
torch.cuda.synchronize()
t3 = time.perf_counter()
print(f"import {t1-t0:.2f} cuda {t2-t1:.2f} compile {t3-t2:.2f} threads={ic.compile_threads} "
      f"alive={len(threading.enumerate())} pid={os.getpid()} affinity={len(os.sched_getaffinity(0))} "
      f"exe={sys.executable} flags={sys.flags.optimize},{sys.flags.dont_write_bytecode}", flush=True)
