# Fails without a traceback: exit code 3, the bucket "exit code 3".
import sys

print("exiting with 3")
sys.exit(3)
