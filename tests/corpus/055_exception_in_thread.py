# An exception in a thread goes through threading.excepthook (named "Thread-1 (worker)");
# the program itself exits 0.
import threading


def worker():
    raise RuntimeError("thread failed")


t = threading.Thread(target=worker)
print(t.name)
t.start()
t.join()
print("main done")
