# os._exit(7) skips finalization: a print still in the buffer is lost (kept under PYTHONUNBUFFERED).
import os
import sys

print("flushed line", flush=True)
print("unflushed line")
sys.stderr.write("stderr is line-buffered\n")
os._exit(7)
