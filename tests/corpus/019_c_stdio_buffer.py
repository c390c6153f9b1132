# C-level stdio (libc puts) has its own buffer, flushed by the C exit() after Python finalizes.
import ctypes
import os

libc = ctypes.CDLL(None)
libc.puts(b"from C puts")
print("from Python print")
os.write(1, b"from os.write\n")
libc.puts(b"from C puts again")
