# Output that does not end with a newline, on both streams.
import sys

print("first line")
print("no newline at the end", end="")
sys.stderr.write("stderr without newline")
