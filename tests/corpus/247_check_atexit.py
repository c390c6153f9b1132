# Checker: no atexit handler is left from an earlier program; this program's own handler runs once.
import atexit

print(atexit._ncallbacks())
atexit.register(print, "atexit handler of the checker")
