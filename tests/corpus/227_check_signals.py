# Checker: signal handling is python's default; SIGINT raises KeyboardInterrupt -> returncode -2.
import signal

for name in ("SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGPIPE"):
    print(name, repr(signal.getsignal(getattr(signal, name))))
print(signal.pthread_sigmask(signal.SIG_BLOCK, []))
print(signal.getitimer(signal.ITIMER_REAL), signal.set_wakeup_fd(-1), flush=True)
signal.raise_signal(signal.SIGINT)
print("not reached")
