# runner fuzz: seed 20261128, program 2907
# behaviours: atexit.special
import atexit
import threading


threading._register_atexit(print, "threading exit hook 5")
