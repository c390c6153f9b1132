# sys.exit(<object>): str(object) goes to stderr, returncode 1.
import sys


class Reason:
    def __str__(self):
        return "custom exit reason"


sys.exit(Reason())
