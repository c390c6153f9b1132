# Passes.
print("program 8")
