# Replaces what the restore of signal state, the time zone and warnings calls.
import _signal
import signal
import time
import warnings

signal.setitimer = None
signal.pthread_sigmask = None
signal.signal = None
_signal.getsignal = None
time.tzset = None
warnings._filters_mutated = None
print("patched signal, time and warnings")
