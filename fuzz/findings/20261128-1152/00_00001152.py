# runner fuzz: seed 20261128, program 1152
# behaviours: exc.in_del, exit.signal
import os
import signal
import sys


class DelFail_4:
    def __call__(self):
        print("finalizer 4 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_4.__del__>"


class Res_4:
    __del__ = DelFail_4()


res_4 = Res_4()
signal.signal(signal.SIGUSR2, lambda signum, frame: sys.exit(9))
signal.raise_signal(signal.SIGUSR2)
print("not reached")
