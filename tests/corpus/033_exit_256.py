# sys.exit(256): the exit status is the code mod 256 -> returncode 0.
import sys

sys.exit(256)
