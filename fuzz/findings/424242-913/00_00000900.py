# runner fuzz: seed 424242, program 900
# behaviours: atexit.special
import atexit
import weakref


class Keep_3:
    def __repr__(self):
        return "<Keep_3>"


keep_3 = Keep_3()
weakref.finalize(keep_3, print, "weakref finalizer 3")
