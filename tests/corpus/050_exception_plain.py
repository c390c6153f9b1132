# An uncaught exception: traceback through two frames on stderr, returncode 1.
def parse(text):
    return int(text)


print("parsing")
parse("not a number")
