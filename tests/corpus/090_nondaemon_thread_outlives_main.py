# A non-daemon thread still running when the main module ends: python waits for it, so its output
# appears, after main's.
import threading
import time

go = threading.Event()


def worker():
    go.wait()
    time.sleep(0.1)
    print("worker finished after main")


threading.Thread(target=worker).start()
print("main module ends")
go.set()
