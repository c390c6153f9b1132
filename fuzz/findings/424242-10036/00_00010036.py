# runner fuzz: seed 424242, program 10036
# behaviours: del.finalizer, mutate.audit_hook
import sys


class Noisy_3:
    def __del__(self):
        print("del 3")

    def __repr__(self):
        return "<Noisy_3>"


def audit_4(event, args):
    if event.startswith("fuzz."):
        print("audit hook 4 saw", event, args)


obj_3 = Noisy_3()
print("kept", obj_3)
sys.addaudithook(audit_4)
sys.audit("fuzz.event", 4)
