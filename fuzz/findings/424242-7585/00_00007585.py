# runner fuzz: seed 424242, program 7585
# behaviours: del.finalizer, thread.outlives_main, mp.os_fork
import os
import sys
import threading
import time


class Noisy_3:
    def __del__(self):
        print("del 3")

    def __repr__(self):
        return "<Noisy_3>"


def late_5():
    while threading.main_thread().is_alive():
        time.sleep(0.002)
    print("late thread 5 finished")
    raise ValueError("late thread 5 failed")


obj_3 = Noisy_3()
print("kept", obj_3)
threading.Thread(target=late_5).start()
pid_7 = os.fork()
if pid_7 == 0:
    print("forked child 7")
    sys.exit(3)
_, status_7 = os.waitpid(pid_7, 0)
print("child status 7", os.waitstatus_to_exitcode(status_7))
