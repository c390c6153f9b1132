# runner fuzz: seed 424242, program 1096
# behaviours: mutate.std_streams
import io
import os
import sys


sys.stdout.flush()
os.close(1)
print("lost: fd 1 is closed")
print("streams now", sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__, file=sys.__stderr__)
