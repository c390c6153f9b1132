# Mutator: disables the collector, changes thresholds and debug flags, freezes objects.
import gc

gc.disable()
gc.set_threshold(1, 2, 3)
gc.set_debug(gc.DEBUG_SAVEALL)
gc.freeze()
print(gc.isenabled(), gc.get_threshold())
