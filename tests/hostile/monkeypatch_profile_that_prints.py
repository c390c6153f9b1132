# Leaves a profile function that prints what it sees of the code of its own file: nothing of runner's
# code may show. (It imports threading, whose shutdown python runs then; without the import, python
# would not, and runner would: docs/differences.md, "Modules already imported".)
import os
import sys
import threading  # noqa: F401

me = os.path.abspath(__file__)


def profiler(frame, event, arg, _write=os.write, _me=me):
    code = frame.f_code
    name = getattr(arg, "__name__", "") if event.startswith("c_") else code.co_name
    where = "program" if code.co_filename == _me else os.path.basename(code.co_filename)
    _write(1, f"{event} {name} in {where}\n".encode())


sys.setprofile(profiler)
print("profiler set")
