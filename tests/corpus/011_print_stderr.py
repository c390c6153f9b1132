# Prints to stderr only, and a mix of both streams: each stream is captured on its own.
import sys

print("to stderr", file=sys.stderr)
print("to stdout")
sys.stderr.write("written to stderr\n")
print("stdout again")
