# runner fuzz: seed 424242, program 3723
# behaviours: exit.segfault
import ctypes


print("before segfault", flush=True)
print("buffered, lost")
ctypes.string_at(0)
