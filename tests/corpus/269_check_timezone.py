# Checker: the time zone the runner's environment gives.
import os
import time

print(os.environ.get("TZ"), time.tzname, time.timezone, time.localtime(0).tm_hour)
