# Mutator: points fd 1 at /dev/null with os.dup2.
import os

print("before dup2", flush=True)
null = os.open(os.devnull, os.O_WRONLY)
os.dup2(null, 1)
print("sent to /dev/null")
os.write(2, b"fd 2 untouched\n")
