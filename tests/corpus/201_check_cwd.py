# Checker: the working directory is the one the runner was started in, and relative paths resolve
# against it.
import os

print(os.getcwd(), os.path.abspath("x"))
