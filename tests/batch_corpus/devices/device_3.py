# Prints the device it was given (or None).
import os

print(os.environ.get("CUDA_VISIBLE_DEVICES"))
