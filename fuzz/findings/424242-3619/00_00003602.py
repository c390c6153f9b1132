# runner fuzz: seed 424242, program 3602
# behaviours: mutate.stdlib_objects
import collections
import collections.abc
import enum


enum.Enum.fuzz_attr = 8
print("stdlib objects now", hasattr(collections.Counter, "fuzz_attr"), isinstance({}, collections.abc.Set), hasattr(enum.Enum, "fuzz_attr"))
