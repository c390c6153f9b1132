# Mutator: rewrites sys.argv and sys.orig_argv in place.
import sys

sys.argv[0] = "polluted"
sys.argv.extend(["--extra", "arg"])
sys.orig_argv.append("polluted")
print(sys.argv)
