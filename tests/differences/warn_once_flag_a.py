# A warning that a preloaded library gives once per process through a flag of its own: python gives it
# to every program; a warm executor only to its first (docs/differences.md).
import warnings

import warn_once_lib

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    warn_once_lib.warn_with_flag()
print(len(caught))
