# Checker: sys.path starts with this script's directory and holds nothing an earlier program
# added; the import machinery is python's own.
import os
import sys

print(sys.path[0] == os.path.dirname(__file__))
print([p for p in sys.path if "polluted" in p], "/polluted/cache" in sys.path_importer_cache)
print([getattr(f, "__name__", type(f).__name__) for f in sys.meta_path])
print([getattr(h, "__qualname__", type(h).__name__) for h in sys.path_hooks])
