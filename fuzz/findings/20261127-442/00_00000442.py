# runner fuzz: seed 20261127, program 442
# behaviours: mp.fork, exc.in_del
import multiprocessing
import os
import sys


def mp_child_2(k):
    print("mp child 2", k)
    sys.exit(3)


class DelFail_5:
    def __call__(self):
        print("finalizer 5 runs")
        raise ValueError("failed in __del__ 5")

    def __repr__(self):
        return "<Res_5.__del__>"


class Res_5:
    __del__ = DelFail_5()


p_2 = multiprocessing.get_context("fork").Process(target=mp_child_2, args=(2,))
p_2.start()
p_2.join()
print("mp exit code", p_2.exitcode, p_2.name)
res_5 = Res_5()
