# Mutator: adds to sys.path, sys.meta_path, sys.path_hooks and sys.path_importer_cache.
import sys


class NullFinder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        return None


sys.path.insert(0, "/polluted/first")
sys.path.append("/polluted/last")
sys.meta_path.insert(0, NullFinder)
sys.path_hooks.insert(0, lambda path: (_ for _ in ()).throw(ImportError()))
sys.path_importer_cache["/polluted/cache"] = None
print(len(sys.path), len(sys.meta_path), len(sys.path_hooks))
