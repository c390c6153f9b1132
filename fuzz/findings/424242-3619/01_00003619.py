# runner fuzz: seed 424242, program 3619
# behaviours: check.stdlib_objects
import collections
import collections.abc
import enum


print("stdlib objects", hasattr(collections.Counter, "fuzz_attr"), isinstance({}, collections.abc.Set), hasattr(enum.Enum, "fuzz_attr"))
