# A pool of the program's own, left running: the program's state, so the executor is replaced.
import concurrent.futures

pool = concurrent.futures.ThreadPoolExecutor(1)
print(pool.submit(sum, [1, 2]).result())
