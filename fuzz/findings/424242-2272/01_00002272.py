# runner fuzz: seed 424242, program 2272
# behaviours: mutate.stdlib_objects
import collections
import collections.abc
import enum


collections.Counter.fuzz_attr = 3
print("stdlib objects now", hasattr(collections.Counter, "fuzz_attr"), isinstance({}, collections.abc.Set), hasattr(enum.Enum, "fuzz_attr"))
