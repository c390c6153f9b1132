# runner fuzz: seed 20261128, program 3035
# behaviours: atexit.special
import atexit
import threading


threading._register_atexit(print, "threading exit hook 7")
