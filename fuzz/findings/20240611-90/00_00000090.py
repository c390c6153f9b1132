# runner fuzz: seed 20240611, program 90 (shrunk by hand from the CI campaign's finding)
# behaviours: mutate.gc, mutate.std_streams, out.stderr, thread.joined
import gc
import sys
import threading
def worker_3(k):
    print("worker 3 step", k, threading.current_thread().name)
gc.set_debug(gc.DEBUG_SAVEALL)
sys.stderr = sys.stdout
print("nul\x00byte", file=sys.__stderr__, end="")
for k_3 in range(2):
    th_3 = threading.Thread(target=worker_3, args=(k_3,))
