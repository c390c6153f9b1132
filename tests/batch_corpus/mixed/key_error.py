# Fails with its own exception: a bucket of one, "KeyError: 'missing'".
table = {}
print(table["missing"])
