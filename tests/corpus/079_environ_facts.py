# os.environ has no CUDA_VISIBLE_DEVICES and agrees with the C-level environment a child inherits.
import os
import subprocess
import sys

print("CUDA_VISIBLE_DEVICES" in os.environ, "PATH" in os.environ)
child = subprocess.run(
    [sys.executable, "-c", "import os; print(sorted(os.environ))"], capture_output=True, text=True, check=True
)
print(child.stdout.strip() == str(sorted(os.environ)))
print(os.environ.get("PYTHONUNBUFFERED"))
