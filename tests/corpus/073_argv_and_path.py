# sys.argv, sys.orig_argv and sys.path as python sets them for `python /abs/prog.py`.
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
print(sys.argv == [__file__], os.path.isabs(sys.argv[0]))
print(sys.orig_argv[1:] == sys.argv, len(sys.orig_argv))
print(sys.path[0] == here)
print(sys.path[1:])
print(sys.prefix == sys.base_prefix or os.path.isdir(sys.prefix), os.path.isabs(sys.executable))
