# Mutator: leaves globals in __main__ and attributes on the __main__ module object.
import sys

polluted_global = 1
sys.modules["__main__"].polluted_attribute = 2
print(sorted(k for k in globals() if k.startswith("polluted")))
