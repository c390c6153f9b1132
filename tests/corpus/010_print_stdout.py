# Plain prints to stdout: block-buffered on a pipe, flushed at exit.
for i in range(5):
    print("line", i)
print("a", "b", sep="-", end="!\n")
