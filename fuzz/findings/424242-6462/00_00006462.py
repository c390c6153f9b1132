# runner fuzz: seed 424242, program 6462
# behaviours: exc.in_del, mutate.hooks
import sys
import threading


class DelFail_3:
    def __call__(self):
        print("finalizer 3 runs")
        raise ValueError("failed in __del__ 3")

    def __repr__(self):
        return "<Res_3.__del__>"


class Res_3:
    __del__ = DelFail_3()


res_3 = Res_3()
sys.set_asyncgen_hooks(firstiter=lambda agen: None, finalizer=lambda agen: None)
print("hooks now", sys.excepthook is sys.__excepthook__, sys.unraisablehook is sys.__unraisablehook__, threading.excepthook is threading.__excepthook__)
