# A child python writing straight to the inherited fd 1 while the parent's print is still buffered.
import subprocess
import sys

print("parent before child")
subprocess.run([sys.executable, "-c", "print('child on inherited stdout')"], check=True)
subprocess.run(
    [sys.executable, "-c", "import sys; sys.stderr.write('child on inherited stderr\\n')"], check=True
)
print("parent after child")
