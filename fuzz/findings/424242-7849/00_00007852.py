# runner fuzz: seed 424242, program 7852
# behaviours: mutate.c_module_state
import tracemalloc


tracemalloc.start()
print("tracing", tracemalloc.is_tracing())
