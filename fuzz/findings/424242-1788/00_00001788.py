# runner fuzz: seed 424242, program 1788
# behaviours: mutate.hooks, exc.in_del
import sys
import threading


class DelFail_6:
    def __call__(self):
        print("finalizer 6 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_6.__del__>"


class Res_6:
    __del__ = DelFail_6()


sys.unraisablehook = lambda u: print("custom unraisablehook 5:", u.exc_type.__name__, u.exc_value)
print("hooks now", sys.excepthook is sys.__excepthook__, sys.unraisablehook is sys.__unraisablehook__, threading.excepthook is threading.__excepthook__)
res_6 = Res_6()
