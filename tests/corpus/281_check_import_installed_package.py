# Checker: importing the package again behaves as a first import (no "module was reloaded" warning).
import sys

print("numpy" in sys.modules)
import numpy  # noqa: E402

print(numpy.arange(5).sum())
