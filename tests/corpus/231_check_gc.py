# Checker: the collector is enabled with default settings and nothing frozen or saved.
import gc

print(gc.isenabled(), gc.get_threshold(), gc.get_debug(), gc.get_freeze_count(), len(gc.garbage))
