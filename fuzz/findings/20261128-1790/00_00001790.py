# runner fuzz: seed 20261128, program 1790
# behaviours: mutate.warnings, del.finalizer
import warnings


class Noisy_4:
    def __del__(self):
        print("del 4")

    def __repr__(self):
        return "<Noisy_4>"


warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: print("custom showwarning 0:", category.__name__, message)
warnings.warn("through showwarning")
print("filters now", len(warnings.filters), [f[0] for f in warnings.filters][:3])
obj_4 = Noisy_4()
print("kept", obj_4)
