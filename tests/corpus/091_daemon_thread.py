# A daemon thread blocked forever does not keep the program alive.
import threading

started = threading.Event()


def worker():
    print("daemon started", flush=True)
    started.set()
    threading.Event().wait()


t = threading.Thread(target=worker, daemon=True)
t.start()
started.wait()
print("main done", t.is_alive(), t.daemon)
