# Interpreter settings a fresh python starts with.
import faulthandler
import gc
import sys

print(sys.flags)
print(sys.getrecursionlimit(), sys.getswitchinterval(), sys.get_int_max_str_digits())
print(gc.isenabled(), gc.get_threshold(), gc.get_freeze_count(), gc.get_debug())
print(faulthandler.is_enabled(), sys.dont_write_bytecode, sys.warnoptions, sys._xoptions)
print(sys.getdefaultencoding(), sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
print(sys.gettrace(), sys.getprofile(), sys.get_asyncgen_hooks())
print(hasattr(sys, "ps1"), hasattr(sys, "last_value"), hasattr(sys, "tracebacklimit"))
print(sys.excepthook is sys.__excepthook__, sys.displayhook is sys.__displayhook__)
print(sys.unraisablehook is sys.__unraisablehook__, sys.breakpointhook is sys.__breakpointhook__)
