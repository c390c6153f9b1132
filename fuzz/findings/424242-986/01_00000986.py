# runner fuzz: seed 424242, program 986
# behaviours: mp.os_fork
import os
import sys


pid_0 = os.fork()
if pid_0 == 0:
    print("forked child 0")
    os._exit(5)
_, status_0 = os.waitpid(pid_0, 0)
print("child status 0", os.waitstatus_to_exitcode(status_0))
