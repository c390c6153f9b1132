# Checker: the hooks are python's defaults, so this uncaught exception prints the usual traceback.
import sys
import threading

print(sys.excepthook is sys.__excepthook__, sys.displayhook is sys.__displayhook__)
print(sys.unraisablehook is sys.__unraisablehook__, sys.breakpointhook is sys.__breakpointhook__)
print(threading.excepthook is threading.__excepthook__, sys.get_asyncgen_hooks())
raise ValueError("must reach the default excepthook")
