# What python gives the __main__ module of a script.
import sys

print(__name__, __file__ == sys.argv[0], __spec__, __package__, __doc__)
print("__cached__" in globals(), globals().get("__cached__"))
print(type(__builtins__).__name__, __builtins__ is sys.modules["builtins"])
print(type(__loader__).__name__, __loader__.name, __loader__.path == __file__)
print(sys.modules["__main__"].__dict__ is globals(), sys.modules["__main__"].__name__)
print(sorted(k for k in globals()))
print(__annotations__ if "__annotations__" in globals() else "no __annotations__")
