# A torchfuzz-shaped eager program: seeded inputs, a chain of ops, a sentinel multiply.
import torch

torch.manual_seed(3)


def fuzzed_program(arg_0, arg_1, sentinel):
    var_0 = torch.matmul(arg_0, arg_1)
    var_1 = torch.nn.functional.relu(var_0)
    var_2 = var_1.sum(dim=-1, keepdim=True)
    var_3 = torch.tanh(var_2 / (var_2.abs().max() + 1))
    return var_3 * sentinel


arg_0 = torch.randn(16, 8)
arg_1 = torch.randn(8, 4)
sentinel = torch.tensor(1.0, requires_grad=True)
out = fuzzed_program(arg_0, arg_1, sentinel)
print("eager ok", tuple(out.shape), round(out.sum().item(), 4))
