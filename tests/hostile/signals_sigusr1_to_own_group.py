# Sends SIGUSR1 to its own process group, with a handler of its own.
import os
import signal

signal.signal(signal.SIGUSR1, lambda signum, frame: print("got", signal.Signals(signum).name))
os.killpg(0, signal.SIGUSR1)
print("after killpg")
