# Mutator: changes the GIL switch interval.
import sys

sys.setswitchinterval(0.5)
print(sys.getswitchinterval())
