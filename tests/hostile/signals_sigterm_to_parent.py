# Sends SIGTERM to its parent, then goes on: the runner, its neighbours and this program's own result
# must not be touched.
import os
import signal
import sys
import time

print("before", flush=True)
os.kill(os.getppid(), signal.SIGTERM)
time.sleep(0.2)
print("after")
sys.exit(3)
