# Checker: the first thread of a fresh program is "Thread-1 (...)".
import threading

print(threading.Thread(target=int).name, threading.current_thread().name, threading.main_thread().ident == threading.get_ident())
