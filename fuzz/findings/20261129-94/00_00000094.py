# runner fuzz: seed 20261129, program 94
# behaviours: mutate.std_streams, mutate.audit_hook
import io
import os
import sys


def audit_6(event, args):
    if event.startswith("fuzz."):
        print("audit hook 6 saw", event, args)


sys.stdout.flush()
os.close(1)
print("lost: fd 1 is closed")
print("streams now", sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__, file=sys.__stderr__)
sys.addaudithook(audit_6)
sys.audit("fuzz.event", 6)
