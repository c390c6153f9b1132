# docs/differences.md "Codec search functions" (warm): a codec search function, an error handler and
# an at-fork hook that do not belong to __main__ (here: they come from a module the program imported)
# stay registered.
import codecs
import os

import codec_leak_search

codecs.register(codec_leak_search.search)
codecs.register_error("runner_difference", codec_leak_search.handler)
os.register_at_fork(after_in_child=codec_leak_search.after_fork)
