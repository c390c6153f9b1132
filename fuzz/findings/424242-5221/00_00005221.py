# runner fuzz: seed 424242, program 5221
# behaviours: out.c_stdio, atexit.special, exit.system_exit
import atexit
import ctypes
import os
import sys


def hard_exit_3():
    print("hard exit from atexit 3")
    os._exit(4)


libc_2 = ctypes.CDLL(None)
libc_2.puts(b"from C puts 2")
libc_2.printf(b"printf %d\n", 2)
atexit.register(sys.stdout.flush)
atexit.register(hard_exit_3)
sys.exit(3)
