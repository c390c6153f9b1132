# runner fuzz: seed 424242, program 1591
# behaviours: exc.in_del, thread.daemon
import threading


class DelFail_4:
    def __call__(self):
        print("finalizer 4 runs")
        raise ValueError("failed in __del__ 4")

    def __repr__(self):
        return "<Res_4.__del__>"


class Res_4:
    __del__ = DelFail_4()


def daemon_5(started):
    print("daemon 5 started", flush=True)
    started.set()
    threading.Event().wait()


res_4 = Res_4()
started_5 = threading.Event()
dt_5 = threading.Thread(target=daemon_5, args=(started_5,), daemon=True)
dt_5.start()
started_5.wait()
print("daemon 5 alive", dt_5.is_alive(), dt_5.daemon)
