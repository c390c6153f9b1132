# docs/differences.md "Modules already imported": with asyncio preloaded (or imported first), asyncio's
# C state keeps `warnings` alive through python's shutdown, so the hook stored there keeps __main__'s
# globals alive and this finalizer never runs.
import warnings


class Noisy:
    def __del__(self):
        print("del Noisy")


warnings.showwarning = lambda *args: None
noisy = Noisy()
