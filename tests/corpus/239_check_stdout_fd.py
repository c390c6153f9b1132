# Checker: fd 1 is the captured stdout again, for prints and for fd writes.
import os

print("print reaches stdout")
os.write(1, b"os.write reaches stdout\n")
