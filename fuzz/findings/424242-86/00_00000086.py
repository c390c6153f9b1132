# runner fuzz: seed 424242, program 86
# behaviours: exc.in_del, mutate.hooks
import sys
import threading


class DelFail_2:
    def __call__(self):
        print("finalizer 2 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_2.__del__>"


class Res_2:
    __del__ = DelFail_2()


res_2 = Res_2()
threading.excepthook = lambda a: print("custom threading.excepthook 6:", a.exc_type.__name__, a.thread.name)
print("hooks now", sys.excepthook is sys.__excepthook__, sys.unraisablehook is sys.__unraisablehook__, threading.excepthook is threading.__excepthook__)
