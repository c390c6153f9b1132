# The first file descriptor a fresh program opens.
import os

fd = os.open(os.devnull, os.O_RDONLY)
print(fd)
with open(os.devnull) as f:
    print(f.fileno())
