# runner fuzz: seed 424242, program 100
# behaviours: mutate.builtins, del.finalizer
import builtins


def prefixed_print_2(*args, _print=builtins.print, **kwargs):
    _print("[p2]", *args, **kwargs)


class Noisy_3:
    def __del__(self):
        print("del 3")

    def __repr__(self):
        return "<Noisy_3>"


builtins.print = prefixed_print_2
print("builtins now", sorted(k for k in dir(builtins) if "fuzz" in k), hasattr(builtins, "input"))
obj_3 = Noisy_3()
print("kept", obj_3)
