# docs/differences.md "Codec search functions" (warm): the next program can still look the codec and
# the error handler up, and its fork runs the hook.
import codecs
import os
import sys


def known(lookup, name):
    try:
        lookup(name)
        return "found"
    except LookupError:
        return "unknown"


print("codec", known(codecs.lookup, "runner_difference"))
print("error handler", known(codecs.lookup_error, "runner_difference"))
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("forked")
