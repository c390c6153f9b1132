# Checker: the recursion limit is the default and 500 frames of recursion work.
import sys


def depth(n):
    return 0 if n == 0 else 1 + depth(n - 1)


print(sys.getrecursionlimit(), depth(500))
