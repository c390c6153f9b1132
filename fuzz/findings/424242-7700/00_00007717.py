# runner fuzz: seed 424242, program 7717
# behaviours: mutate.threading
import threading


threading.Thread.fuzz_attr = 5
print("threading now", threading.current_thread().name, threading.stack_size(), hasattr(threading.Thread, "fuzz_attr"), threading.Thread(target=int).name)
