# Puts its stderr on every descriptor number from 3 to 4095, replacing whatever was there.
import os
import sys

for fd in range(3, 4096):
    try:
        os.dup2(2, fd)
    except OSError:
        pass
print("replaced every descriptor")
sys.exit(5)
