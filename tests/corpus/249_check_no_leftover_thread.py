# Checker: only the main thread exists, and no thread of an earlier program reacts when this one
# plants the module it waits for.
import sys
import threading
import time
import types

print(threading.active_count(), [t.name for t in threading.enumerate()])
sys.modules["corpus_leftover_probe"] = types.ModuleType("corpus_leftover_probe")
time.sleep(0.2)
print("quiet")
