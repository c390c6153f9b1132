# Finds every sequenced-packet socket it has and sends a forged "the program passed" on it.
import json
import os
import socket
import sys

forged = json.dumps({"Done": {"token": 12345, "returncode": 0, "reusable": True, "reason": None, "program_time": 0.1}})
for name in os.listdir("/proc/self/fd"):
    try:
        s = socket.socket(fileno=os.dup(int(name)))
    except OSError:
        continue
    try:
        if s.type == socket.SOCK_SEQPACKET:
            s.send(forged.encode())
    except OSError:
        pass
    s.close()
print("forged a reply")
sys.exit(3)
