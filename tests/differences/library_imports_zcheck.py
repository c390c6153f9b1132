import sys

import torch  # noqa: F401

print("decimal" in sys.modules)
