# runner fuzz: seed 424242, program 626
# behaviours: check.hooks
import sys
import threading


print("hooks", sys.excepthook is sys.__excepthook__, sys.displayhook is sys.__displayhook__, sys.unraisablehook is sys.__unraisablehook__, sys.breakpointhook is sys.__breakpointhook__, threading.excepthook is threading.__excepthook__)
print("tracing", sys.gettrace() is None, sys.getprofile() is None, tuple(sys.get_asyncgen_hooks()) == (None, None))
