# Replaces built-ins that runner's own Python code uses.
import builtins
import sys

for name in ("len", "getattr", "setattr", "list", "id", "map", "isinstance", "dict", "set", "sorted"):
    setattr(builtins, name, lambda *args, **kwargs: 1 / 0)
sys.stdout.write("patched the builtins\n")
