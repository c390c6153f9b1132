# runner fuzz: seed 424242, program 1124
# behaviours: check.at_fork
import os


pid_2 = os.fork()
if pid_2 == 0:
    os._exit(0)
os.waitpid(pid_2, 0)
print("forked and reaped 2")
