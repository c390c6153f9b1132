# Starts a background child that outlives the program without holding its output, and reports both pids.
import os
import subprocess
import sys

child = subprocess.Popen(["sleep", "300"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
with open(sys.argv[1] if len(sys.argv) > 1 else os.environ["PID_FILE"], "w") as f:
    f.write(f"{os.getpid()} {child.pid}\n")
print("started")
