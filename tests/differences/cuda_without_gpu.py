import torch

try:
    torch.zeros(1, device="cuda")
except Exception as e:
    print(type(e).__name__ + ": " + str(e).splitlines()[0])
