# Unbounded recursion: RecursionError with "[Previous line repeated N more times]", where N
# depends on how deep the stack already is when the program starts.
def down(n):
    return down(n + 1)


down(0)
