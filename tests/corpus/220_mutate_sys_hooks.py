# Mutator: replaces every hook in sys and threading that a program may set.
import sys
import threading


def hook(*args, **kwargs):
    print("polluted hook called", file=sys.stderr)


sys.excepthook = hook
sys.displayhook = hook
sys.unraisablehook = hook
sys.breakpointhook = hook
threading.excepthook = hook
sys.set_asyncgen_hooks(firstiter=hook, finalizer=hook)
print("hooks replaced")
