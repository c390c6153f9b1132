# runner fuzz: seed 20261131, program 643
# behaviours: mutate.builtins, exc.in_del, atexit.special
import atexit
import builtins
import threading


def prefixed_print_2(*args, _print=builtins.print, **kwargs):
    _print("[p2]", *args, **kwargs)


class DelFail_3:
    def __call__(self):
        print("finalizer 3 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_3.__del__>"


class Res_3:
    __del__ = DelFail_3()


builtins.print = prefixed_print_2
print("builtins now", sorted(k for k in dir(builtins) if "fuzz" in k), hasattr(builtins, "input"))
res_3 = Res_3()
threading._register_atexit(print, "threading exit hook 4")
