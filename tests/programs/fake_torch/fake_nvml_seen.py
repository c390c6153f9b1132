# Records what a preload sees of PYTORCH_NVML_BASED_CUDA_CHECK while it is imported.
import os

seen = os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK")
