# An exit code that needs more than 32 bits: CPython truncates the C long to int (2**40 + 5 -> 5).
import sys

sys.exit(2**40 + 5)
