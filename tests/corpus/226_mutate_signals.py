# Mutator: ignores SIGINT, handles SIGTERM and SIGUSR1, blocks SIGUSR2, arms a timer and sets a
# wakeup fd.
import os
import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, lambda *a: print("polluted SIGTERM handler"))
signal.signal(signal.SIGUSR1, lambda *a: print("polluted SIGUSR1 handler"))
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
signal.signal(signal.SIGALRM, lambda *a: print("polluted alarm"))
signal.setitimer(signal.ITIMER_REAL, 30)
r, w = os.pipe()
os.set_blocking(w, False)
signal.set_wakeup_fd(w)
print("signals changed")
