# A file that does not compile: SyntaxError with the caret, returncode 1, nothing runs.
print("never printed")


def broken(:
    pass
