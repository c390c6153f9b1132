# __main__'s globals stay reachable from an audit hook, so python never runs this object's __del__;
# the program's exit status and the output of its shutdown are python's all the same.
import atexit
import sys


class Noisy:
    def __del__(self):
        print("never printed by python: del Noisy")


def hook(event, args):
    if event == "runner.corpus":
        print("audit", args)


noisy = Noisy()
sys.addaudithook(hook)
sys.audit("runner.corpus", 1)
atexit.register(print, "atexit runs")
print("unflushed at exit", end="")
sys.exit(3)
