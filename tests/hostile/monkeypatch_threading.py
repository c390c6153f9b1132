# Replaces threading's shutdown and enumerate: python calls the replaced _shutdown at its end.
import threading

threading._shutdown = lambda: print("my own threading shutdown")
threading.enumerate = None
print("patched threading")
