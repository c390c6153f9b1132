# runner fuzz: seed 20261203, program 3839
# behaviours: mutate.stdlib_objects
import collections
import collections.abc
import enum
import json


json.JSONEncoder.item_separator = ";"
print(json.dumps([1, 2]))
print("stdlib objects now", hasattr(collections.Counter, "fuzz_attr"), isinstance({}, collections.abc.Set), hasattr(enum.Enum, "fuzz_attr"))
