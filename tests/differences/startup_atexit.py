# How many exit handlers the program finds registered when it starts.
import atexit

print(atexit._ncallbacks())
