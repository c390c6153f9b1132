# runner fuzz: seed 20261130, program 9092
# behaviours: del.finalizer, exc.caught_and_printed, exc.in_del
import sys
import traceback


class Noisy_3:
    def __del__(self):
        print("del 3")

    def __repr__(self):
        return "<Noisy_3>"


class FuzzBase_4(BaseException):
    pass


class DelFail_6:
    def __call__(self):
        print("finalizer 6 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_6.__del__>"


class Res_6:
    __del__ = DelFail_6()


obj_3 = Noisy_3()
print("kept", obj_3)
try:
    raise FuzzBase_4("custom BaseException 4")
except BaseException as e_c4:
    traceback.print_exc()
print("recovered 4")
res_6 = Res_6()
