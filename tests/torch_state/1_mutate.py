# Mutator: changes the torch state that torchfuzz-style programs change, and more.
import torch
import torch._dynamo

torch._dynamo.config.capture_scalar_outputs = True
torch._dynamo.config.cache_size_limit = 3
torch.set_default_dtype(torch.float64)
torch.set_default_device("cpu")
torch.set_printoptions(precision=2, sci_mode=True)
torch.set_grad_enabled(False)
torch.use_deterministic_algorithms(True, warn_only=True)
torch.set_num_threads(1)
torch.set_float32_matmul_precision("medium")
torch.autograd.set_detect_anomaly(True)
torch.backends.cudnn.benchmark = True
torch.manual_seed(1234)
compiled = torch.compile(lambda x: x * 2 + 1, backend="eager")
print(compiled(torch.ones(2)))
