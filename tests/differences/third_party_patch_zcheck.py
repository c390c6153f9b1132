# docs/differences.md "Third-party module globals" (warm): the next program sees the patch.
import numpy

print(hasattr(numpy, "runner_difference"))
