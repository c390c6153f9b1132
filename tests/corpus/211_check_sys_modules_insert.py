# Checker: no planted module is importable; the stdlib name gives the real module.
import sys

print("corpus_fake_module" in sys.modules)
try:
    import corpus_fake_module  # noqa: F401
except ModuleNotFoundError as e:
    print(repr(e))
import colorsys

print(hasattr(colorsys, "polluted"), hasattr(colorsys, "rgb_to_hls"))
