# Checker: the global random generator is seeded afresh, not left at an earlier program's seed.
import random

print(random.getstate() == random.Random(1234).getstate())
