# runner fuzz: seed 20261127, program 443
# behaviours: del.finalizer, mp.fork
import multiprocessing
import os
import sys


class Noisy_0:
    def __del__(self):
        print("del 0")

    def __repr__(self):
        return "<Noisy_0>"


def mp_child_4(k):
    print("mp child 4", k)
    sys.exit(3)


obj_0 = Noisy_0()
print("kept", obj_0)
p_4 = multiprocessing.get_context("fork").Process(target=mp_child_4, args=(4,))
p_4.start()
p_4.join()
print("mp exit code", p_4.exitcode, p_4.name)
