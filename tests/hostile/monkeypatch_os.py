# Replaces what the restore of process state calls in os.
import os

os.environ["RUNNER_HOSTILE"] = "1"
for name in ("chdir", "umask", "sched_getaffinity", "sched_setaffinity", "getpriority", "unsetenv", "putenv", "listdir", "readlink", "getcwd"):
    setattr(os, name, None)
print("patched os")
