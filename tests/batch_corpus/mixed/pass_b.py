# Passes: prints on both streams.
import sys

print("pass b")
print("pass b on stderr", file=sys.stderr)
