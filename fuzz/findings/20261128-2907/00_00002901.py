# runner fuzz: seed 20261128, program 2901
# behaviours: thread.pool
import concurrent.futures


with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool_0:
    print("pool 0", list(pool_0.map(abs, [-1, -2, 3])))
