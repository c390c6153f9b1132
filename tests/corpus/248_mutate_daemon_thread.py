# Mutator: leaves a daemon thread running. It waits for a module named corpus_leftover_probe to
# appear in sys.modules and then prints; python stops it at exit, so here it never prints.
import sys
import threading
import time


def watcher():
    while "corpus_leftover_probe" not in sys.modules:
        time.sleep(0.005)
    print("leftover daemon thread from an earlier program", flush=True)


threading.Thread(target=watcher, name="leftover", daemon=True).start()
print("daemon started")
