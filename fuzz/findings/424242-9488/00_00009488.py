# runner fuzz: seed 424242, program 9488
# behaviours: mutate.signals, exit.signal
import os
import signal


signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
print("signals", [getattr(h, "__name__", str(h)) for h in map(signal.getsignal, (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGPIPE, signal.SIGHUP, signal.SIGCHLD, signal.SIGXFSZ))], sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])), signal.getitimer(signal.ITIMER_REAL)[0] > 0)
print("about to raise SIGUSR2", flush=True)
signal.raise_signal(signal.SIGUSR2)
print("still running after the signal")
