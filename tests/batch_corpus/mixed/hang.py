# Never ends: only the runner's --timeout stops it (returncode -9, timed_out).
import time

print("hanging", flush=True)
while True:
    time.sleep(3600)
