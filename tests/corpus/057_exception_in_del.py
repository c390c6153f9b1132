# An exception in __del__: "Exception ignored in: ..." on stderr, the program goes on.
# (__del__ is a callable object so that the message shows no memory address.)
class Finalizer:
    def __call__(self):
        raise ValueError("failed in __del__")

    def __repr__(self):
        return "<Resource.__del__>"


class Resource:
    __del__ = Finalizer()


r = Resource()
del r
print("after del")
