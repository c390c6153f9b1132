# Passes; two levels down.
print("deep")
