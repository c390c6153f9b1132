# torchfuzz's full shape: run eagerly, then torch.compile(fullgraph=True, dynamic=True), and compare.
import torch

torch._dynamo.config.capture_scalar_outputs = True
torch.manual_seed(42)


def fuzzed_program(arg_0, arg_1, sentinel):
    var_0 = arg_0 * arg_1 + 1.0
    var_1 = torch.exp(var_0.clamp(max=4.0))
    var_2 = var_1.mean(dim=0)
    return var_2 * sentinel


arg_0 = torch.randn(8, 4)
arg_1 = torch.randn(8, 4)
sentinel = torch.tensor(1.0, requires_grad=True)
eager = fuzzed_program(arg_0, arg_1, sentinel)
print("✅ eager success")
compiled_fn = torch.compile(fuzzed_program, fullgraph=True, dynamic=True)
compiled = compiled_fn(arg_0, arg_1, sentinel)
print("✅ compile success")
diff = (eager - compiled).abs().max().item()
assert diff <= 1e-4 + 0.05 * eager.abs().max().item(), diff
print("results match")
