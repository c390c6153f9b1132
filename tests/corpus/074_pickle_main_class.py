# Classes and functions of __main__ pickle by reference to "__main__" and load back.
import pickle


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return (self.x, self.y) == (other.x, other.y)


def square(n):
    return n * n


data = pickle.dumps([Point(1, 2), square], protocol=4)
print(b"__main__" in data, b"Point" in data)
p, f = pickle.loads(data)
print(p == Point(1, 2), type(p) is Point, f is square, f(7))
