# runner fuzz: seed 424242, program 3308
# behaviours: atexit.handler, out.c_stdio, exit.system_exit
import atexit
import ctypes
import sys


class Bye_2:
    def __call__(self, what, who="2"):
        print("atexit", what, who)

    def __repr__(self):
        return "<Bye_2>"


bye_2 = Bye_2()


atexit.register(bye_2, "carriage\rreturn")
libc_4 = ctypes.CDLL(None)
libc_4.puts(b"from C puts 4")
libc_4.printf(b"printf %d\n", 4)
raise SystemExit(1, 2)
