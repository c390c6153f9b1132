# A UTF-8 byte order mark at the start of the file.
s = 'été'
print(s, len(s))
import sys
print(open(__file__, 'rb').read(3))
