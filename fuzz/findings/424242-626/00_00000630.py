# runner fuzz: seed 424242, program 630
# behaviours: mutate.hooks
import sys
import threading


sys.set_asyncgen_hooks(firstiter=lambda agen: None, finalizer=lambda agen: None)
print("hooks now", sys.excepthook is sys.__excepthook__, sys.unraisablehook is sys.__unraisablehook__, threading.excepthook is threading.__excepthook__)
