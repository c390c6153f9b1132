# Mutator: closes sys.stderr (the object; fd 2 stays open).
import os
import sys

sys.stderr.close()
os.write(2, b"fd 2 still open\n")
print("stderr closed")
