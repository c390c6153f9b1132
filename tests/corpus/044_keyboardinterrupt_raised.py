# An uncaught KeyboardInterrupt: traceback on stderr, then python dies by SIGINT -> returncode -2.
print("before interrupt")


def work():
    raise KeyboardInterrupt


work()
