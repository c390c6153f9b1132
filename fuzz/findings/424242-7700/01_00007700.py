# runner fuzz: seed 424242, program 7700
# behaviours: mutate.threading
import threading


threading.stack_size(512 * 1024)
print("threading now", threading.current_thread().name, threading.stack_size(), hasattr(threading.Thread, "fuzz_attr"), threading.Thread(target=int).name)
