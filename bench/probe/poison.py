# GPU probe: which compiler-stack imports make forked children unable to use CUDA ("bad fork"),
# and from where (torch._C._cuda_getDeviceCount and _cuda_init are wrapped to print the caller).
#   python poison.py MODULE...   (each module in a fresh interpreter after torch, _dynamo, _inductor)
import os, subprocess, sys, time
if len(sys.argv) > 1 and sys.argv[1] == "--one":
    import traceback, importlib
    import torch, torch._dynamo, torch._inductor
    for name in ("_cuda_getDeviceCount", "_cuda_init"):
        real = getattr(torch._C, name)
        def wrap(*a, _real=real, _name=name):
            print(f"  called {_name}:", "".join(traceback.format_stack(limit=12)[:-1]).replace("\n", "\n    "))
            return _real(*a)
        setattr(torch._C, name, wrap)
    t = time.perf_counter()
    importlib.import_module(sys.argv[2])
    dt = time.perf_counter() - t
    pid = os.fork()
    if pid == 0:
        os._exit(1 if torch.cuda._is_in_bad_fork() else 0)
    _, st = os.waitpid(pid, 0)
    print(f"{sys.argv[2]}: import {dt:.2f} s, threads {len(os.listdir('/proc/self/task'))}, "
          f"cuda initialised {torch.cuda.is_initialized()}, forked child in bad fork: {os.waitstatus_to_exitcode(st) == 1}")
    sys.exit()
for m in sys.argv[1:]:
    subprocess.run([sys.executable, __file__, "--one", m])
