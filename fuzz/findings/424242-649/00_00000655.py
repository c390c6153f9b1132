# runner fuzz: seed 424242, program 655
# behaviours: mutate.codec_error_handler
import codecs


codecs.register_error("fuzz_handler", lambda e: ("?", e.end))
print("decoded", b"a\xffb".decode("ascii", "fuzz_handler"))
