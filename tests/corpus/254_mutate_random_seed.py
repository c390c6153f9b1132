# Mutator: seeds the global random generator with a known seed.
import random

random.seed(1234)
print(random.getstate() == random.Random(1234).getstate())
