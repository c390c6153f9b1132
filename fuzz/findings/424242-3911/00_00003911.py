# runner fuzz: seed 424242, program 3911
# behaviours: mutate.std_streams, exit.system_exit
import io
import os
import sys


sys.stderr.close()
print("streams now", sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__, file=sys.__stdout__)
raise SystemExit(1, 2)
