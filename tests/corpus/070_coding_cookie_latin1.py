# -*- coding: latin-1 -*-
# A PEP 263 cookie: this file is latin-1, its string literal holds non-ASCII bytes.
s = 'café à ü'
print(s, len(s), [hex(ord(c)) for c in s])
