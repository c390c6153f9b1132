# Crashes with a real segmentation fault (returncode -11): reads address 0.
import ctypes

print("about to read address 0", flush=True)
ctypes.string_at(0)
