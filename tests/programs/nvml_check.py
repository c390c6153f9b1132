import os
import sys

print("preload saw", sys.modules["fake_nvml_seen"].seen)
print("program sees", os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK"))
