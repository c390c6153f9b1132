# Checker: the default limit: a 1000-digit int converts to str.
import sys

print(sys.get_int_max_str_digits(), sys.flags.int_max_str_digits, len(str(10**999)))
