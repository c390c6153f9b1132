# A program that fails with a failure the campaign already knows (examples/known_issues.toml lists
# it): the generator wrote a matmul whose inner sizes do not agree. The batch counts it as ignored
# and names the known issue it hit, instead of reporting a new failure.
import torch

torch.manual_seed(7)
a = torch.randn(4, 3)
b = torch.randn(4, 5)
print(torch.mm(a, b))
