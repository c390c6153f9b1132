# runner fuzz: seed 424242, program 7485
# behaviours: mp.fork
import multiprocessing
import os
import sys


def mp_child_5(k):
    print("mp child 5", k)


p_5 = multiprocessing.get_context("fork").Process(target=mp_child_5, args=(5,))
p_5.start()
p_5.join()
print("mp exit code", p_5.exitcode, p_5.name)
