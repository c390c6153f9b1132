# Mutator: reconfigures the real sys.stdout (line buffering, encoding, errors).
import sys

sys.stdout.reconfigure(line_buffering=True, encoding="latin-1", errors="backslashreplace")
print("\u2713 reconfigured")
