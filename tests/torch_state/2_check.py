# Checker: torch's state is what a fresh interpreter has.
import torch
import torch._dynamo

print(torch._dynamo.config.capture_scalar_outputs, torch._dynamo.config.cache_size_limit)
print(torch.get_default_dtype(), torch.get_default_device(), torch.is_grad_enabled())
print(torch.are_deterministic_algorithms_enabled(), torch.get_float32_matmul_precision(), torch.is_anomaly_enabled())
print(torch.backends.cudnn.benchmark, torch.get_num_threads() == torch.get_num_interop_threads() or True)
print(torch.tensor([1.123456789, 2.5]))
print(torch._dynamo.utils.counters["stats"]["calls_captured"])
