# Passes; lives in a subdirectory so that the directory walk must recurse to find it.
print("nested")
