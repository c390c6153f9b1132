# The site module's exit() builtin: closes sys.stdin and raises SystemExit(4).
import sys

print(type(exit).__name__, repr(exit))
try:
    exit(4)
finally:
    print("stdin closed:", sys.stdin.closed)
