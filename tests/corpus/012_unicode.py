# Non-ASCII text on both streams goes out in the stream encoding.
import sys

print("h\u00e9llo \u2713 \u65e5\u672c \U0001f389")
print("caf\u00e9 \u2014 na\u00efve", file=sys.stderr)
