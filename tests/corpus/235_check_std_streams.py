# Checker: sys.stdin/stdout/stderr are the original stream objects.
import sys

for name in ("stdin", "stdout", "stderr"):
    s = getattr(sys, name)
    print(name, s is getattr(sys, "__" + name + "__"), type(s).__name__, s.name, s.closed)
print(repr(sys.stdin.read()))
