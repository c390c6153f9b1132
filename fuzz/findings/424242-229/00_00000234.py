# runner fuzz: seed 424242, program 234
# behaviours: exc.in_del, mutate.std_streams
import io
import os
import sys


class DelFail_0:
    def __call__(self):
        print("finalizer 0 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_0.__del__>"


class Res_0:
    __del__ = DelFail_0()


res_0 = Res_0()
sys.stdout = open(1, "w", closefd=False)
print("through a second stdout object")
print("streams now", sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__, file=sys.__stderr__)
