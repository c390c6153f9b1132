# Stands in for a module whose import asks the CUDA runtime for its devices (torch._inductor's
# runtime.benchmarking does, through torch.cuda.is_available()): as real torch does then, every
# forked child is in a "bad fork" and refuses CUDA. This machine has one GPU.
import os
import sys
import types

_bad_fork = False


def _after_fork_in_child():
    global _bad_fork
    _bad_fork = True


os.register_at_fork(after_in_child=_after_fork_in_child)
torch = types.ModuleType("torch")
torch.cuda = types.SimpleNamespace(
    is_initialized=lambda: False, _is_in_bad_fork=lambda: _bad_fork, device_count=lambda: 1
)
sys.modules["torch"] = torch
