# Imports torch's compiler, which imports decimal (a standard-library module) for its own use.
import torch._dynamo  # noqa: F401
