# subprocess of sys.executable with captured output and an exit code.
import subprocess
import sys

r = subprocess.run(
    [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
    capture_output=True,
    text=True,
)
print(r.returncode, repr(r.stdout), repr(r.stderr))
