# Mutator: sets, changes and deletes environment variables (os.environ and the C environ with it).
import os

os.environ["RUNNER_CORPUS_POLLUTED"] = "1"
os.environ["HOME"] = "/polluted-home"
del os.environ["PATH"]
os.putenv("RUNNER_CORPUS_PUTENV", "1")
print(sorted(k for k in os.environ if k.startswith("RUNNER_CORPUS")))
