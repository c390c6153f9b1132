# Mutator: removes modules that python imports at start-up from sys.modules.
import sys

for name in ("stat", "_sitebuiltins", "genericpath"):
    del sys.modules[name]
print(sorted(m for m in ("stat", "_sitebuiltins", "genericpath") if m in sys.modules))
