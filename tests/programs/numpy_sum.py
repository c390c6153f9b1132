import numpy as np

print(np.arange(10).sum(), np.__version__.split(".")[0])
