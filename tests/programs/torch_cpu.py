# A tiny eager torch program: imports torch from the test environment and computes on the CPU.
import torch

torch.manual_seed(0)
x = torch.randn(4, 4)
print(torch.__version__.split("+")[0], round((x @ x.T).trace().item(), 3))
print(torch.initial_seed())
