# Checker: the umask is the one the runner was started with.
import os

mask = os.umask(0o022)
os.umask(mask)
print(oct(mask))
