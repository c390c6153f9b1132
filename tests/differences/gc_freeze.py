# docs/differences.md "gc.freeze()": objects of the zygote are frozen.
import gc

print(gc.get_freeze_count() > 0)
