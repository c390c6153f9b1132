# A multiprocessing Pool with the fork start method.
import multiprocessing


def square(n):
    return n * n


if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(2)
    print(pool.map(square, range(10)))
    pool.close()
    pool.join()
    print("done")
