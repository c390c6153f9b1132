# An ExceptionGroup with a note: 3.11's nested traceback rendering.
def fail(i):
    e = ValueError(f"failure {i}")
    e.add_note(f"note for {i}")
    return e


raise ExceptionGroup("several failures", [fail(1), TypeError("wrong type"), fail(2)])
