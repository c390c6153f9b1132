# __main__'s module dies with its sys.modules entry and its globals go in the collection that follows:
# finalizers run in python's order (not the `_private`-first order of a module cleared in place).
class Noisy:
    def __init__(self, name):
        self.name = name

    def __del__(self):
        print("del", self.name)


a = Noisy("a")
_b = Noisy("_b")
c = Noisy("c")
