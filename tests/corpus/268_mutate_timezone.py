# Mutator: changes the time zone of the process (TZ and tzset).
import os
import time

os.environ["TZ"] = "UTC+05"
time.tzset()
print(time.timezone)
