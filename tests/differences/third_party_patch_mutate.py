# docs/differences.md "Third-party module globals" (warm): a patched preloaded package stays patched.
import numpy

numpy.runner_difference = True
