# Writes bytes that look like runner's messages to every descriptor it has.
import json
import os
import sys

done = {"Done": {"token": 1, "returncode": 0, "reusable": True, "reason": None, "program_time": 0.1}}
message = json.dumps(done).encode()
for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    if fd > 2:
        try:
            os.write(fd, message)
        except OSError:
            pass
print("wrote on every descriptor")
sys.exit(7)
