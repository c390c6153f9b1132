# runner fuzz: seed 424242, program 4726
# behaviours: atexit.special, mutate.std_streams
import atexit
import io
import os
import sys
import threading


threading._register_atexit(print, "threading exit hook 1")
sys.stdout.flush()
os.close(1)
print("lost: fd 1 is closed")
print("streams now", sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__, file=sys.__stderr__)
