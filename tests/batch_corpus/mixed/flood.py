# Passes after writing 1 MB to stdout: with a small --max-output the record says truncated.
import sys

sys.stdout.write("x" * 1_000_000)
