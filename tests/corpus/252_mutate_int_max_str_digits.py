# Mutator: lowers the int/str conversion limit.
import sys

sys.set_int_max_str_digits(640)
print(sys.get_int_max_str_digits())
