# runner fuzz: seed 20261128, program 3660
# behaviours: mutate.process
import os
import resource
import sys


os.sched_setaffinity(0, {0})
print("process now", os.nice(0), sorted(os.sched_getaffinity(0)), resource.getrlimit(resource.RLIMIT_NOFILE), sys.getdlopenflags(), sys.get_coroutine_origin_tracking_depth())
