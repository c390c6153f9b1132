# runner fuzz: seed 424242, program 9027
# behaviours: import.special, exc.in_del, mutate.warnings
import asyncio
import warnings


async def coro_5(k):
    await asyncio.sleep(0)
    return k * 2


class DelFail_6:
    def __call__(self):
        print("finalizer 6 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_6.__del__>"


class Res_6:
    __del__ = DelFail_6()


print("asyncio", asyncio.run(coro_5(21)))
res_6 = Res_6()
warnings.formatwarning = lambda message, category, filename, lineno, line=None: "formatted 7: %s\n" % message
warnings.warn("through formatwarning")
print("filters now", len(warnings.filters), [f[0] for f in warnings.filters][:3])
