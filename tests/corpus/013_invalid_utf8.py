# Bytes that are not UTF-8 reach the captured streams unchanged (decoded with replacement).
import os
import sys

print("before")
sys.stdout.flush()
sys.stdout.buffer.write(b"bad \xff byte\n")
sys.stdout.buffer.write(b"cut \xe2\x82\n")
sys.stdout.buffer.flush()
os.write(2, b"stderr \xc3( invalid\n")
print("after")
