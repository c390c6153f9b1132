# runner fuzz: seed 424242, program 617
# behaviours: mp.fork
import multiprocessing
import os
import sys


def mp_child_0(k):
    print("mp child 0", k)
    sys.exit(3)


p_0 = multiprocessing.get_context("fork").Process(target=mp_child_0, args=(0,))
p_0.start()
p_0.join()
print("mp exit code", p_0.exitcode, p_0.name)
