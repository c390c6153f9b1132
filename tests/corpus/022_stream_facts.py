# How python sets up the standard streams for pipes and /dev/null.
import sys

for name in ("stdin", "stdout", "stderr"):
    s = getattr(sys, name)
    print(name, s.name, s.mode, s.encoding, s.errors, s.line_buffering, s.write_through, s.fileno(), s.isatty())
    print(name, "is original:", s is getattr(sys, "__" + name + "__"), type(s.buffer).__name__)
print(repr(sys.stdin.read()))
print(type(getattr(sys.stdout.buffer, "raw", sys.stdout.buffer)).__name__, sys.stdin.readable(), sys.stdout.writable())
