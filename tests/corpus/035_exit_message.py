# sys.exit("message"): the message goes to stderr, returncode 1.
import sys

print("about to fail")
sys.exit("fatal: something went wrong")
