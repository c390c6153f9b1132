# docs/differences.md "Codec search functions" (warm): the next program can still look the codec up.
import codecs

try:
    codecs.lookup("runner_difference")
    print("found")
except LookupError:
    print("unknown")
