# Signal dispositions, mask and timers python starts with (SIGINT -> KeyboardInterrupt, SIGPIPE and
# SIGXFSZ ignored, the rest default).
import signal

for name in ("SIGINT", "SIGTERM", "SIGPIPE", "SIGXFSZ", "SIGHUP", "SIGCHLD", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGQUIT"):
    print(name, repr(signal.getsignal(getattr(signal, name))))
print(signal.pthread_sigmask(signal.SIG_BLOCK, []))
print(signal.getitimer(signal.ITIMER_REAL), signal.alarm(0))
print(signal.set_wakeup_fd(-1))
