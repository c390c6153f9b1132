# Checker: after a compile program, torch's compiler state is what a fresh interpreter has, and a
# function of the same name with another body is compiled afresh (a leaked code cache or guard would
# give the old result).
import torch
import torch._dynamo
import torch._inductor.config

print(torch._dynamo.config.capture_scalar_outputs, torch._dynamo.config.cache_size_limit)
print(torch._inductor.config.debug_index_asserts)
print(torch.get_default_dtype(), torch.get_default_device())
print(sorted(torch._dynamo.utils.counters["stats"].items()))


def fn(x):
    return torch.cos(x) * 2


print(torch.compile(fn, fullgraph=True)(torch.ones(3)))
print(sorted(torch._dynamo.utils.counters["stats"].items()))
