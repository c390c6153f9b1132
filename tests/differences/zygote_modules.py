# docs/differences.md "Modules already imported": runner's own helper imports are in sys.modules.
import sys

print("threading" in sys.modules)
