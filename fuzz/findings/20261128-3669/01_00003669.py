# runner fuzz: seed 20261128, program 3669
# behaviours: mutate.process
import os
import resource
import sys


sys.setdlopenflags(os.RTLD_NOW | os.RTLD_GLOBAL)
print("process now", os.nice(0), sorted(os.sched_getaffinity(0)), resource.getrlimit(resource.RLIMIT_NOFILE), sys.getdlopenflags(), sys.get_coroutine_origin_tracking_depth())
