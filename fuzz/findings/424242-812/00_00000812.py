# runner fuzz: seed 424242, program 812
# behaviours: mutate.codec_error_handler, del.finalizer
import codecs


class Noisy_5:
    def __del__(self):
        print("del 5")

    def __repr__(self):
        return "<Noisy_5>"


codecs.register_error("fuzz_handler", lambda e: ("?", e.end))
print("decoded", b"a\xffb".decode("ascii", "fuzz_handler"))
obj_5 = Noisy_5()
print("kept", obj_5)
