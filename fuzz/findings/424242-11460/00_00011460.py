# runner fuzz: seed 424242, program 11460
# behaviours: mutate.trace, del.finalizer
import sys
import threading


events_1 = []


def tracer_1(frame, event, arg, _events=events_1):
    _events.append(event)
    return None


def traced_1():
    return 1


class Noisy_2:
    def __del__(self):
        print("del 2")

    def __repr__(self):
        return "<Noisy_2>"


sys.setprofile(tracer_1)
traced_1()
print("tracer set", sys.gettrace() is None, sys.getprofile() is None)
obj_2 = Noisy_2()
print("kept", obj_2)
