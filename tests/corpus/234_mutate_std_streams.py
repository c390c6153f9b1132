# Mutator: replaces sys.stdout and sys.stdin without restoring them.
import io
import sys

sys.stdin = io.StringIO("polluted input")
sys.stdout = io.StringIO()
print("swallowed by a StringIO")
sys.__stdout__.write("written to the real stdout\n")
