# os.abort(): dies by SIGABRT -> returncode -6; what was flushed before is kept.
import os

print("before abort", flush=True)
os.abort()
