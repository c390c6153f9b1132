# Passes.
print("program 2")
