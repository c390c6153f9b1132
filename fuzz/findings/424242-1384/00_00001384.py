# runner fuzz: seed 424242, program 1384
# behaviours: mutate.meta_path, exc.in_del
import sys


class Finder_0:
    def find_spec(self, name, path, target=None):
        if name.startswith("fuzz"):
            print("finder 0 asked for", name)
        return None


class DelFail_2:
    def __call__(self):
        print("finalizer 2 runs")
        raise ValueError("failed in __del__ 2")

    def __repr__(self):
        return "<Res_2.__del__>"


class Res_2:
    __del__ = DelFail_2()


sys.meta_path.insert(0, Finder_0())
try:
    import fuzz_found_nowhere
except ImportError:
    print("not found")
res_2 = Res_2()
