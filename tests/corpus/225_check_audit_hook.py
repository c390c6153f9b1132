# Checker: no audit hook from an earlier program sees this event.
import sys

sys.audit("corpus.probe", "checker")
print("audit event raised")
