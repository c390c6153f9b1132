# Passes.
print("program 5")
