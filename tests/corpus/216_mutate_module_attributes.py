# Mutator: monkeypatches attributes of stdlib modules (possibly preloaded ones).
import collections
import json
import os
import string

json.dumps = lambda *a, **k: "polluted"
string.ascii_letters = "polluted"
collections.polluted = True
os.sep_polluted = "!"
print(json.dumps([1]), string.ascii_letters)
