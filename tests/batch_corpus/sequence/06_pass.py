# Passes.
print("program 6")
