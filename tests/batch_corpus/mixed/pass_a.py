# Passes: prints one line.
print("pass a")
