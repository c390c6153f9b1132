# Mutator: replaces print, adds a builtin, removes one.
import builtins

original_print = builtins.print
builtins.foo = "polluted"
del builtins.ascii
builtins.print = lambda *a, **k: original_print("polluted:", *a, **k)
print("hello")
