# Eager forward and backward, as torchfuzz's backward templates do.
import torch

torch.manual_seed(7)
x = torch.randn(32, 16, requires_grad=True)
w = torch.randn(16, 16, requires_grad=True)
loss = torch.sigmoid(x @ w).pow(2).mean()
loss.backward()
print("backward ok", x.grad.shape == x.shape, w.grad.abs().sum().item() > 0)
