# runner fuzz: seed 20261128, program 892
# behaviours: mutate.signals, exc.in_del
import os
import signal


def on_signal_3(signum, frame):
    print("handler 3 got", signal.Signals(signum).name)


class DelFail_8:
    def __call__(self):
        print("finalizer 8 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_8.__del__>"


class Res_8:
    __del__ = DelFail_8()


signal.signal(signal.SIGHUP, on_signal_3)
signal.raise_signal(signal.SIGHUP)
print("after the handler 3")
print("signals", [getattr(h, "__name__", str(h)) for h in map(signal.getsignal, (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGPIPE, signal.SIGHUP, signal.SIGCHLD, signal.SIGXFSZ))], sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])), signal.getitimer(signal.ITIMER_REAL)[0] > 0)
res_8 = Res_8()
