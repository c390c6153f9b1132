# Checker: standard-library classes and ABCs are as a fresh python has them.
import collections
import collections.abc
import threading

print(hasattr(collections.Counter, "runner_corpus"), isinstance({}, collections.abc.Set))
print(repr(threading.Thread(target=int, name="t")).split(" ")[0])
match {}:
    case [*_]:
        print("a sequence")
    case {}:
        print("a mapping")
