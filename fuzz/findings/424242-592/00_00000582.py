# runner fuzz: seed 424242, program 582
# behaviours: mutate.threading
import threading


threading.current_thread().name = "renamed-main-1"
print("threading now", threading.current_thread().name, threading.stack_size(), hasattr(threading.Thread, "fuzz_attr"), threading.Thread(target=int).name)
