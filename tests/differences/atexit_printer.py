# A module that registers an exit handler when imported (preloaded in docs/differences.md's test).
import atexit

atexit.register(print, "atexit handler of atexit_printer")
