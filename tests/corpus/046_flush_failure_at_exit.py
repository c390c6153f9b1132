# fd 1 closed under a pending print: flushing stdout at exit fails -> "Exception ignored" and
# returncode 120 (under PYTHONUNBUFFERED the print itself raises instead).
import os

os.close(1)
print("this print cannot be written")
