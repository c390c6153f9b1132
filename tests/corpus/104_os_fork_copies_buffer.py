# A bare os.fork() with a print still buffered: the child inherits the buffer and flushes it when it
# exits normally, so the line appears twice (once under PYTHONUNBUFFERED).
import os
import sys

print("pending before fork")
pid = os.fork()
if pid == 0:
    os.write(1, b"child writes to fd 1\n")
    print("child print")
    sys.exit(3)
_, status = os.waitpid(pid, 0)
print("child status", os.waitstatus_to_exitcode(status))
