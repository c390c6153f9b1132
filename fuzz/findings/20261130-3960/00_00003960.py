# runner fuzz: seed 20261130, program 3960
# behaviours: mutate.warnings, exc.in_del
import warnings


class DelFail_3:
    def __call__(self):
        print("finalizer 3 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_3.__del__>"


class Res_3:
    __del__ = DelFail_3()


warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: print("custom showwarning 2:", category.__name__, message)
warnings.warn("through showwarning")
print("filters now", len(warnings.filters), [f[0] for f in warnings.filters][:3])
res_3 = Res_3()
