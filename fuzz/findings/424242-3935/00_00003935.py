# runner fuzz: seed 424242, program 3935
# behaviours: del.finalizer, mutate.std_streams
import io
import os
import sys


class Noisy_1:
    def __del__(self):
        print("del 1")

    def __repr__(self):
        return "<Noisy_1>"


obj_1 = Noisy_1()
print("kept", obj_1)
sys.stdout = sys.__stderr__
print("stdout is stderr now")
print("streams now", sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__, file=sys.__stderr__)
