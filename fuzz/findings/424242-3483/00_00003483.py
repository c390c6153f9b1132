# runner fuzz: seed 424242, program 3483
# behaviours: mutate.gc, del.finalizer
import gc


def gc_callback_0(phase, info, _seen=[]):
    _seen.append(phase)


class Noisy_2:
    def __del__(self):
        print("del 2")

    def __repr__(self):
        return "<Noisy_2>"


gc.callbacks.append(gc_callback_0)
print("gc now", gc.isenabled(), gc.get_threshold(), gc.get_debug(), len(gc.callbacks), bool(gc.garbage))
obj_2 = Noisy_2()
print("kept", obj_2)
