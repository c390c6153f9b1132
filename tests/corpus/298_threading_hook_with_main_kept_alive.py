# A threading exit hook runs once, at thread shutdown, also when an audit hook keeps __main__ alive
# and the executor ends with python's own shutdown; the finalizer never runs.
import sys, threading
class N:
    def __del__(self): print("del N")
n = N()
threading._register_atexit(print, "threading hook")
sys.addaudithook(lambda e, a: None)
