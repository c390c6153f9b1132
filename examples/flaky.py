# A flaky program, as fuzzers meet them (random inputs, racing kernels): it fails, then passes when
# run again. Here the dice are made deterministic so that the demo shows `--retries` every time: the
# program fails the first time it runs under a given grandparent process (runner's worker, or your
# shell), leaving a marker file, and passes the next time, removing it. Run it twice with python to
# see both outcomes.
import os
import tempfile


def grandparent():
    # The parent of our parent, from /proc (runner puts a small nanny process between a worker and
    # each program; under a shell, the grandparent is the shell's parent).
    with open(f"/proc/{os.getppid()}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


marker = os.path.join(tempfile.gettempdir(), f"runner-example-flaky-{os.getuid()}-{grandparent()}")
if os.path.exists(marker):
    os.remove(marker)
    print("flaky: passed this time")
else:
    open(marker, "w").close()
    raise RuntimeError("flaky: lost a race this time (run it again)")
