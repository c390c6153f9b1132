# runner fuzz: seed 424242, program 2788
# behaviours: del.finalizer, mutate.hooks
import sys
import threading


class Noisy_1:
    def __del__(self):
        print("del 1")

    def __repr__(self):
        return "<Noisy_1>"


obj_1 = Noisy_1()
print("kept", obj_1)
threading.excepthook = lambda a: print("custom threading.excepthook 2:", a.exc_type.__name__, a.thread.name)
print("hooks now", sys.excepthook is sys.__excepthook__, sys.unraisablehook is sys.__unraisablehook__, threading.excepthook is threading.__excepthook__)
