# runner fuzz: seed 424242, program 63
# behaviours: mutate.signals, exit.signal
import os
import signal
import sys


signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
print("signals", [getattr(h, "__name__", str(h)) for h in map(signal.getsignal, (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGPIPE, signal.SIGHUP, signal.SIGCHLD, signal.SIGXFSZ))], sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])), signal.getitimer(signal.ITIMER_REAL)[0] > 0)
signal.signal(signal.SIGUSR2, lambda signum, frame: sys.exit(9))
signal.raise_signal(signal.SIGUSR2)
print("not reached")
