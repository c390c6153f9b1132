# Checker: sys.stderr is open and writable.
import sys

print(sys.stderr.closed)
print("to stderr", file=sys.stderr)
