# Checker: an unknown codec name is unknown.
import codecs

try:
    codecs.lookup("corpus_polluted")
except LookupError as e:
    print(repr(e))
