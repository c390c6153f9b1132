# Checker: builtins are python's own.
import builtins

print(print is builtins.__dict__["print"], print.__module__, type(print).__name__)
print(hasattr(builtins, "foo"), ascii("\u00e9"))
print(len(dir(builtins)), sorted(n for n in dir(builtins) if not n.startswith("_"))[-5:])
