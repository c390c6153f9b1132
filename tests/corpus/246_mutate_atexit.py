# Mutator: registers an atexit handler; it runs once, when this program ends.
import atexit

atexit.register(print, "atexit handler of the mutator")
print("registered")
