# Replaces __import__ itself.
import builtins

builtins.__import__ = lambda *args, **kwargs: 1 / 0
print("patched __import__")
