# Checker: sys has python's attributes, so this uncaught exception prints its whole traceback.
import sys

print(hasattr(sys, "tracebacklimit"), hasattr(sys, "ps1"), hasattr(sys, "polluted"), sys.dont_write_bytecode)


def inner():
    raise KeyError("full traceback expected")


inner()
