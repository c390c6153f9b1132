# Mutator: plants fake modules in sys.modules, one under a stdlib name.
import sys
import types

sys.modules["corpus_fake_module"] = types.ModuleType("corpus_fake_module")
fake = types.ModuleType("colorsys")
fake.polluted = True
sys.modules["colorsys"] = fake
import colorsys

print(getattr(colorsys, "polluted", False))
