# runner fuzz: seed 424242, program 592
# behaviours: check.threading
import threading


print("threading", threading.active_count(), threading.current_thread().name, threading.current_thread() is threading.main_thread(), threading.stack_size(), threading.Thread(target=print).name, hasattr(threading.Thread, "fuzz_attr"))
