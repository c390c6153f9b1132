# runner fuzz: seed 424242, program 3685
# behaviours: exit.segfault
import ctypes


print("buffered, lost")
ctypes.string_at(0)
