# runner fuzz: seed 424242, program 11347
# behaviours: mutate.std_streams, exit.through_finally
import io
import os
import sys


sys.stderr.close()
print("streams now", sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__, file=sys.__stdout__)
try:
    sys.exit("finally message")
finally:
    print("finally runs 9")
