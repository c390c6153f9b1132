# A compile program that leaves everything a later program of the same warm executor could see:
# dynamo's configs, caches and counters, inductor's config, the default dtype, a compiled `fn`.
import torch
import torch._dynamo
import torch._inductor.config

torch._dynamo.config.capture_scalar_outputs = True
torch._dynamo.config.cache_size_limit = 3
torch._inductor.config.debug_index_asserts = True
torch.set_default_dtype(torch.float64)


def fn(x):
    return torch.sin(x) + 1


print(torch.compile(fn, fullgraph=True)(torch.ones(3)))
print(sorted(torch._dynamo.utils.counters["stats"].items()))
