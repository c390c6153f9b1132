# SystemExit raised in an atexit handler is reported as ignored and does not change the exit status.
import atexit
import sys


class Handler:
    def __call__(self):
        print("handler runs")
        sys.exit(9)

    def __repr__(self):
        return "<Handler>"


atexit.register(Handler())
print("main done")
