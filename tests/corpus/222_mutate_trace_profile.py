# Mutator: installs trace and profile functions, for this thread and future threads.
import sys
import threading


def tracer(frame, event, arg):
    return tracer


sys.settrace(tracer)
sys.setprofile(tracer)
threading.settrace(tracer)
threading.setprofile(tracer)
print("tracing")
