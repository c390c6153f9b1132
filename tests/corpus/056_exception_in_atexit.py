# An exception in an atexit handler: "Exception ignored in atexit callback", exit status unchanged.
import atexit


class Handler:
    def __call__(self):
        raise ValueError("atexit handler failed")

    def __repr__(self):
        return "<Handler>"


atexit.register(Handler())
print("main done")
