# sys.exit() in a thread ends only that thread, silently; the program exits 0.
import sys
import threading


def worker():
    print("thread exits")
    sys.exit(5)


t = threading.Thread(target=worker)
t.start()
t.join()
print("main continues")
