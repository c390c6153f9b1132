# runner fuzz: seed 424242, program 1318
# behaviours: mutate.meta_path, del.finalizer
import sys


class Finder_0:
    def find_spec(self, name, path, target=None):
        if name.startswith("fuzz"):
            print("finder 0 asked for", name)
        return None


class Noisy_3:
    def __del__(self):
        print("del 3")

    def __repr__(self):
        return "<Noisy_3>"


sys.meta_path.insert(0, Finder_0())
try:
    import fuzz_found_nowhere
except ImportError:
    print("not found")
obj_3 = Noisy_3()
print("kept", obj_3)
