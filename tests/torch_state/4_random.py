# Random numbers of an unseeded program (compared between two programs, not with python).
import torch

print(torch.randn(3).tolist())
