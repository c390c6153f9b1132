# A KeyboardInterrupt ends the program while a threading hook keeps __main__'s globals alive: python
# dies by SIGINT after its shutdown, and this __del__ never runs.
import threading


class Noisy:
    def __del__(self):
        print("never printed by python: del Noisy")


noisy = Noisy()
threading.excepthook = lambda args: print("hook", args)
print("about to interrupt")
raise KeyboardInterrupt
