# Mutator: starts and joins threads, advancing threading's name counter.
import threading

threads = [threading.Thread(target=int) for _ in range(3)]
for t in threads:
    t.start()
    t.join()
print([t.name for t in threads])
