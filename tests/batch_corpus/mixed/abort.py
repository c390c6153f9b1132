# Crashes with SIGABRT (returncode -6).
import os

print("about to abort", flush=True)
os.abort()
