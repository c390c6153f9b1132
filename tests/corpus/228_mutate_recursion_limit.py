# Mutator: lowers the recursion limit.
import sys

sys.setrecursionlimit(60)
print(sys.getrecursionlimit())
