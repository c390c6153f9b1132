# Mutator: opens file descriptors and never closes them.
import os

leaked = [os.open(os.devnull, os.O_RDONLY) for _ in range(3)]
r, w = os.pipe()
print(len(leaked))
