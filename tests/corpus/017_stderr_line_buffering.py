# stderr is line-buffered: a partial line waits in the buffer while fd 2 writes pass it.
import os
import sys

sys.stderr.write("partial ")
os.write(2, b"fd write A\n")
sys.stderr.write("line completed\n")
os.write(2, b"fd write B\n")
sys.stderr.write("tail without newline")
os.write(2, b"fd write C\n")
