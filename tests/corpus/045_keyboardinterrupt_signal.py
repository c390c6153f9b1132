# SIGINT delivered to the program: python's default handler raises KeyboardInterrupt -> -2.
import signal

print(signal.getsignal(signal.SIGINT))
signal.raise_signal(signal.SIGINT)
print("not reached")
