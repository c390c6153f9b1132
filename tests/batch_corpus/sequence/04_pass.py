# Passes.
print("program 4")
