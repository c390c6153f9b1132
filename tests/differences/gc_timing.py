# docs/differences.md "When the garbage collector runs": cyclic garbage is collected when allocations
# since the last collection pass a threshold. Importing `threading` allocates enough in a fresh python
# to trigger a collection; in runner it is already imported, allocates nothing, and the garbage is
# collected later (at the program's end here).
class Noisy:
    def __del__(self):
        print("collected")


garbage = Noisy()
garbage.cycle = garbage
del garbage
import threading  # noqa: E402

print("imported", threading.__name__)
