# Checker: stdout has python's configuration again, so its buffering orders prints and fd writes as
# a fresh python does.
import os
import sys

print(sys.stdout.encoding, sys.stdout.errors, sys.stdout.line_buffering, "\u2713")
os.write(1, b"fd write\n")
print("last print")
