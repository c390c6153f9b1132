# Carriage returns (progress-bar style) and CRLF line ends.
import sys

for i in range(3):
    print(f"\rprogress {i}", end="")
print()
sys.stdout.write("dos line\r\n")
sys.stderr.write("err\rover\r\n")
