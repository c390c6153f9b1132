# Checker: __main__ is a fresh module holding only this program's names.
import sys

print(sorted(globals()))
print("polluted_global" in globals(), hasattr(sys.modules["__main__"], "polluted_attribute"))
