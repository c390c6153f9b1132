# runner fuzz: seed 20261203, program 3820
# behaviours: import.special
import numpy


print("numpy", numpy.arange(6).reshape(2, 3).sum(axis=0).tolist())
