# sys.exit(-1) -> returncode 255.
import sys

sys.exit(-1)
