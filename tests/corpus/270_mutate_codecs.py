# Mutator: registers a codec search function and never unregisters it.
import codecs


def search(name):
    if name == "corpus_polluted":
        return codecs.lookup("utf-8")
    return None


codecs.register(search)
print(codecs.lookup("corpus_polluted").name)
