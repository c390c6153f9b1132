# A segfault through ctypes -> returncode -11; flushed output is kept, buffered output is lost.
import ctypes

print("before segfault", flush=True)
print("buffered, lost")
ctypes.string_at(0)
