# Buffered prints and fd-level writes to fd 1: the captured order shows stdout's buffering
# (block-buffered: the fd writes come first; PYTHONUNBUFFERED: program order).
import os

print("print 1")
os.write(1, b"os.write 1\n")
print("print 2 flushed", flush=True)
os.write(1, b"os.write 2\n")
print("print 3")
os.write(1, b"os.write 3\n")
