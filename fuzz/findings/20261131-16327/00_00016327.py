# runner fuzz: seed 20261131, program 16327
# behaviours: exc.in_del, mp.fork, exc.in_del
import multiprocessing
import os
import sys


class DelFail_2:
    def __call__(self):
        print("finalizer 2 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_2.__del__>"


class Res_2:
    __del__ = DelFail_2()


def mp_child_3(k):
    print("mp child 3", k)


class DelFail_5:
    def __call__(self):
        print("finalizer 5 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_5.__del__>"


class Res_5:
    __del__ = DelFail_5()


res_2 = Res_2()
with multiprocessing.get_context("fork").Pool(2) as pool_3:
    print("pool map", pool_3.map(abs, [-1, -2, -3]))
res_5 = Res_5()
