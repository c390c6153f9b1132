# Checker: faulthandler is off, so a segfault prints nothing and returns -11.
import ctypes
import faulthandler

print(faulthandler.is_enabled(), flush=True)
ctypes.string_at(0)
