# Stands in for a module whose import initialises CUDA: a torch whose CUDA says it is initialised.
import sys
import types

torch = types.ModuleType("torch")
torch.cuda = types.SimpleNamespace(is_initialized=lambda: True)
sys.modules["torch"] = torch
