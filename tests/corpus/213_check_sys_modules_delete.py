# Checker: the start-up modules are present, and `import stat` gives the same module os uses.
import os
import sys

print([m in sys.modules for m in ("stat", "_sitebuiltins", "genericpath", "os", "codecs", "encodings")])
import stat

print(os.st is stat, os.path.genericpath is sys.modules["genericpath"])
