# Checker: no trace or profile function is installed, in this thread or a new one.
import sys
import threading

print(sys.gettrace(), sys.getprofile(), threading.gettrace(), threading.getprofile())
seen = []
t = threading.Thread(target=lambda: seen.append((sys.gettrace(), sys.getprofile())))
t.start()
t.join()
print(seen)
