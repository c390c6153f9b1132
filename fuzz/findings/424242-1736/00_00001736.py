# runner fuzz: seed 424242, program 1736
# behaviours: mutate.trace, exc.in_del
import sys
import threading


events_1 = []


def tracer_1(frame, event, arg, _events=events_1):
    _events.append(event)
    return None


def traced_1():
    return 1


class DelFail_2:
    def __call__(self):
        print("finalizer 2 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_2.__del__>"


class Res_2:
    __del__ = DelFail_2()


sys.settrace(tracer_1)
traced_1()
print("tracer set", sys.gettrace() is None, sys.getprofile() is None)
res_2 = Res_2()
