# runner fuzz: seed 20240611, program 55
# behaviours: thread.pool
import concurrent.futures


with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool_2:
    print("pool 2", list(pool_2.map(abs, [-1, -2, 3])))
