# runner fuzz: seed 424242, program 8065
# behaviours: exc.in_del, mutate.builtins
import builtins


class DelFail_2:
    def __call__(self):
        print("finalizer 2 runs")
        raise ValueError("failed in __del__ 2")

    def __repr__(self):
        return "<Res_2.__del__>"


class Res_2:
    __del__ = DelFail_2()


def prefixed_print_4(*args, _print=builtins.print, **kwargs):
    _print("[p4]", *args, **kwargs)


res_2 = Res_2()
builtins.print = prefixed_print_4
print("builtins now", sorted(k for k in dir(builtins) if "fuzz" in k), hasattr(builtins, "input"))
