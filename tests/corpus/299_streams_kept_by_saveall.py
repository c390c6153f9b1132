# Under gc.DEBUG_SAVEALL python's shutdown keeps what its collections find in gc.garbage, never
# finalized. Here that is __main__'s globals (a cycle through f), which hold the original stderr:
# the text left in its buffer is never written. threading's main thread holds that same stream (it
# keeps the sys.stderr of the moment threading was imported).
import gc
import sys
import threading

print("main thread keeps the program's stderr", threading.main_thread()._stderr is sys.__stderr__)
gc.set_debug(gc.DEBUG_SAVEALL)
kept = sys.stderr
sys.stderr = sys.stdout
print("lost in a stream that is never finalized", file=sys.__stderr__, end="")


def f():
    return kept
