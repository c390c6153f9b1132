# runner fuzz: seed 424242, program 813
# behaviours: mutate.std_streams, del.finalizer
import io
import os
import sys


class Noisy_1:
    def __del__(self):
        print("del 1")

    def __repr__(self):
        return "<Noisy_1>"


sys.stdout = io.StringIO()
print("swallowed 0")
sys.__stdout__.write("kept 0\n")
print("streams now", sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__, file=sys.__stderr__)
obj_1 = Noisy_1()
print("kept", obj_1)
