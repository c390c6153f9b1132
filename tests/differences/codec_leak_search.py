# Imported by codec_leak_mutate.py: a codec search function that is not part of that program's __main__.
import codecs

UTF8 = codecs.lookup("utf-8")


def search(name):
    return UTF8 if name == "runner_difference" else None


def handler(error):
    return ("?", error.end)


def after_fork():
    import os

    os.write(1, b"at-fork hook ran\n")
