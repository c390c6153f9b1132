# runner fuzz: seed 424242, program 9922
# behaviours: exc.in_del, mutate.std_streams
import io
import os
import sys


class DelFail_3:
    def __call__(self):
        print("finalizer 3 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_3.__del__>"


class Res_3:
    __del__ = DelFail_3()


res_3 = Res_3()
sys.stdout = sys.__stderr__
print("stdout is stderr now")
print("streams now", sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__, file=sys.__stderr__)
