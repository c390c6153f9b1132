# A module global whose __del__ fails while the interpreter finalizes.
class Finalizer:
    def __call__(self):
        print("finalizer runs")
        raise RuntimeError("failed at shutdown")

    def __repr__(self):
        return "<Late.__del__>"


class Late:
    __del__ = Finalizer()


keep = Late()
print("main done")
