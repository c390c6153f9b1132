# Checker: the first descriptor this program opens has the number a fresh python gives it.
import os

fd = os.open(os.devnull, os.O_RDONLY)
print(fd)
