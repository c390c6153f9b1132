# atexit handlers run last-registered first, after python has joined the non-daemon threads.
import atexit
import threading


def make(label):
    def handler():
        print("atexit", label)

    return handler


atexit.register(make("registered first"))
atexit.register(make("registered second"))
atexit.register(print, "atexit with arguments", 1, 2)
main_done = threading.Event()
threading.Thread(target=lambda: (main_done.wait(), print("thread finishes before atexit"))).start()
print("main done")
main_done.set()
