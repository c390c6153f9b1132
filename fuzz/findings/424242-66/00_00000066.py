# runner fuzz: seed 424242, program 66
# behaviours: exc.in_del, mutate.gc
import gc


class DelFail_2:
    def __call__(self):
        print("finalizer 2 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_2.__del__>"


class Res_2:
    __del__ = DelFail_2()


def gc_callback_3(phase, info, _seen=[]):
    _seen.append(phase)


res_2 = Res_2()
gc.callbacks.append(gc_callback_3)
print("gc now", gc.isenabled(), gc.get_threshold(), gc.get_debug(), len(gc.callbacks), bool(gc.garbage))
