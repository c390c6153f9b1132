# Checker: stdlib modules are unpatched.
import collections
import json
import os
import string

print(json.dumps([1, 2]), string.ascii_letters, hasattr(collections, "polluted"), hasattr(os, "sep_polluted"))
