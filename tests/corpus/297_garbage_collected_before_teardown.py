# Garbage left at the end (a cycle with a finalizer) goes in the collection python runs after
# flushing the std files and before tearing modules down: the modules are all there, and sys.stdout
# is still what the program made it.
import gc
import io
import sys

gc.set_threshold(1_000_000)


class Cycle:
    def __del__(self):
        print("del: modules", len(sys.modules) > 0, "stdout replaced", sys.stdout is not sys.__stdout__,
              file=sys.__stderr__)


c = Cycle()
c.self = c
del c
sys.stdout = io.StringIO()
