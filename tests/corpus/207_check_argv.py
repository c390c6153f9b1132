# Checker: sys.argv is exactly [this file].
import sys

print(sys.argv == [__file__], len(sys.argv), sys.orig_argv[1:] == [__file__])
