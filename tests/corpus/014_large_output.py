# 1 MiB on stdout and 256 KiB on stderr: more than any pipe buffer holds.
import sys

line = "x" * 1023
for i in range(1024):
    print(line)
for i in range(256):
    print(line, file=sys.stderr)
print("end")
