# Checker: the default switch interval.
import sys

print(sys.getswitchinterval())
