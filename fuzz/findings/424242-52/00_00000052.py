# runner fuzz: seed 424242, program 52
# behaviours: mutate.at_fork, del.finalizer
import os


class Noisy_3:
    def __del__(self):
        print("del 3")

    def __repr__(self):
        return "<Noisy_3>"


os.register_at_fork(before=lambda: os.write(1, b"before fork hook 0\n"), after_in_child=lambda: os.getpid())
print("fork hooks registered", flush=True)
obj_3 = Noisy_3()
print("kept", obj_3)
