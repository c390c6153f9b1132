# runner fuzz: seed 424242, program 649
# behaviours: check.codec_error_handler


try:
    print("error handler", b"\xff".decode("ascii", "fuzz_handler"))
except LookupError as e_0:
    print("error handler:", e_0)
