# Passes.
print("program 7")
