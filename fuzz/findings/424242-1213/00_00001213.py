# runner fuzz: seed 424242, program 1213
# behaviours: del.finalizer, thread.daemon
import threading


class Noisy_5:
    def __del__(self):
        print("del 5")

    def __repr__(self):
        return "<Noisy_5>"


def daemon_7(started):
    print("daemon 7 started", flush=True)
    started.set()
    threading.Event().wait()


obj_5 = Noisy_5()
print("kept", obj_5)
started_7 = threading.Event()
dt_7 = threading.Thread(target=daemon_7, args=(started_7,), daemon=True)
dt_7.start()
started_7.wait()
print("daemon 7 alive", dt_7.is_alive(), dt_7.daemon)
