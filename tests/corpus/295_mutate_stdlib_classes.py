# Mutator: changes standard-library classes in place and registers a virtual subclass with a stdlib ABC.
import collections
import collections.abc
import threading

collections.Counter.runner_corpus = 1
threading.Thread.__repr__ = lambda self: "<patched>"
collections.abc.Set.register(dict)
print(repr(threading.Thread(target=int)), isinstance({}, collections.abc.Set))
