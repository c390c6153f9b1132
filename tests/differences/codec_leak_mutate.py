# docs/differences.md "Codec search functions" (warm): a registered codec search function stays.
import codecs

utf8 = codecs.lookup("utf-8")
codecs.register(lambda name, found=utf8: found if name == "runner_difference" else None)
