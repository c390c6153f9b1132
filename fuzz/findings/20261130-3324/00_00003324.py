# runner fuzz: seed 20261130, program 3324
# behaviours: mutate.warnings, del.finalizer
import warnings


class Noisy_6:
    def __del__(self):
        print("del 6")

    def __repr__(self):
        return "<Noisy_6>"


warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: print("custom showwarning 5:", category.__name__, message)
warnings.warn("through showwarning")
print("filters now", len(warnings.filters), [f[0] for f in warnings.filters][:3])
obj_6 = Noisy_6()
print("kept", obj_6)
