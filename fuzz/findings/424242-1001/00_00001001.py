# runner fuzz: seed 424242, program 1001
# behaviours: mutate.codec_error_handler, exc.in_del
import codecs


class DelFail_3:
    def __call__(self):
        print("finalizer 3 runs")
        raise SystemExit(5)

    def __repr__(self):
        return "<Res_3.__del__>"


class Res_3:
    __del__ = DelFail_3()


codecs.register_error("fuzz_handler", lambda e: ("?", e.end))
print("decoded", b"a\xffb".decode("ascii", "fuzz_handler"))
res_3 = Res_3()
