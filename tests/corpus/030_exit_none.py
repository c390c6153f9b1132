# sys.exit() with no argument: SystemExit(None) -> returncode 0, nothing on stderr.
import sys

print("exiting")
sys.exit()
print("not reached")
