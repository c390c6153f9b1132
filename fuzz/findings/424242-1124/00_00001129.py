# runner fuzz: seed 424242, program 1129
# behaviours: mutate.at_fork
import os


os.register_at_fork(before=lambda: os.write(1, b"before fork hook 4\n"), after_in_child=lambda: os.getpid())
print("fork hooks registered", flush=True)
