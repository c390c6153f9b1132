# Replaces what the end of a program calls in gc, weakref and atexit.
import atexit
import gc
import weakref

atexit.register(print, "an exit handler of the program's own")
gc.collect = None
gc.isenabled = None
weakref.ref = None
atexit._run_exitfuncs = None
print("patched gc, weakref and atexit")
