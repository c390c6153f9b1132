# Leaves a trace function that raises at its first event: python drops it there, with a report. (It
# imports threading, whose shutdown is that first event; docs/differences.md, "Modules already
# imported".)
import sys
import threading  # noqa: F401


def tracer(frame, event, arg):
    raise RuntimeError("from the program's tracer")


sys.settrace(tracer)
print("tracer set")
