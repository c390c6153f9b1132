# Passes.
print("program 1")
