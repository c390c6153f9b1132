# runner fuzz: seed 20261128, program 2959
# behaviours: check.process
import os
import resource
import sys


print("process", os.nice(0), sorted(os.sched_getaffinity(0)), resource.getrlimit(resource.RLIMIT_NOFILE), sys.getdlopenflags(), sys.get_coroutine_origin_tracking_depth())
