# Mutator: imports an installed package with C extensions (numpy) that was not preloaded.
import numpy

print(numpy.arange(4).sum())
