# Mutator: sets a restrictive umask.
import os

print(oct(os.umask(0o077)))
