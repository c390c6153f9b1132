# Sends SIGTERM to its parent's process group.
import os
import signal
import time

print("before", flush=True)
os.killpg(os.getpgid(os.getppid()), signal.SIGTERM)
time.sleep(0.2)
print("after")
