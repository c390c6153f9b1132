import threading

print(threading.active_count())
