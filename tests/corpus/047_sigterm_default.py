# SIGTERM with its default disposition -> returncode -15.
import signal

print(repr(signal.getsignal(signal.SIGTERM)), flush=True)
signal.raise_signal(signal.SIGTERM)
