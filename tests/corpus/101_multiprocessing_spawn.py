# A multiprocessing Pool with the spawn start method: children run sys.executable and re-import
# this file as __mp_main__ to find square().
import multiprocessing


def square(n):
    return n * n


if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    pool = ctx.Pool(2)
    print(pool.map(square, range(10)))
    pool.close()
    pool.join()
    print("done")
else:
    assert __name__ == "__mp_main__", __name__
