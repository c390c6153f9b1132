# Keeps a copy of every descriptor above 2 under another number and closes the original.
import os
import sys

copies = {}
for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    if fd > 2:
        try:
            copies[fd] = os.dup(fd)
        except OSError:
            pass
for fd in copies:
    try:
        os.close(fd)
    except OSError:
        pass
print("moved", len(copies) > 0)
sys.exit(6)
