# torch.compile's guards keep the program's globals alive from C++: python never finalizes them (no
# "del D" at exit); warm mode cuts the guards off and the globals go at the program's end.
import torch


class D:
    def __del__(self):
        print("del D")


d = D()


def f(x):
    return x + 1


# The eager backend: the guards are dynamo's, whatever compiles the graph (Inductor would only add
# a C++ toolchain's minutes to the test).
torch.compile(f, backend="eager")(torch.ones(2))
print("end")
