# docs/differences.md "Process identity": the command line is the worker's, not python's.
with open("/proc/self/cmdline", "rb") as f:
    print(f.read().split(b"\0")[1].decode().endswith(".py"))
