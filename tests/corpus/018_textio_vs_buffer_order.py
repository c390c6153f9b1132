# Text written through sys.stdout waits in the TextIOWrapper while sys.stdout.buffer writes go
# straight to the BufferedWriter, so the bytes can overtake the text.
import sys

print("text 1")
sys.stdout.buffer.write(b"bytes 1\n")
print("text 2")
sys.stdout.buffer.write(b"bytes 2\n")
sys.stdout.flush()
print("text 3")
