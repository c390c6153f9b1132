# numpy: a seeded linear solve, checked against its residual.
import numpy as np

rng = np.random.default_rng(0)
a = rng.standard_normal((64, 64)) + 64 * np.eye(64)
b = rng.standard_normal(64)
x = np.linalg.solve(a, b)
print("residual ok:", bool(np.allclose(a @ x, b)))
