# torch.compile's guards keep the program's globals alive from C++: python never finalizes them (no
# "del D" at exit); warm mode cuts the guards off and the globals go at the program's end.
import torch


class D:
    def __del__(self):
        print("del D")


d = D()


def f(x):
    return x + 1


torch.compile(f)(torch.ones(2))
print("end")
