# Checker: the environment is the runner's again, in os.environ and at the C level.
import ctypes
import os

libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_char_p
for key in ("RUNNER_CORPUS_POLLUTED", "RUNNER_CORPUS_PUTENV"):
    print(key, os.environ.get(key), libc.getenv(key.encode()))
print(os.environ.get("HOME") != "/polluted-home", libc.getenv(b"HOME") != b"/polluted-home")
print("PATH" in os.environ, libc.getenv(b"PATH") is not None)
print(os.environ.get("PATH") == (libc.getenv(b"PATH") or b"").decode())
