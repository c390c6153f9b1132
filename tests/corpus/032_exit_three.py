# sys.exit(3) -> returncode 3; buffered output is still flushed.
import sys

print("exiting with 3")
sys.exit(3)
