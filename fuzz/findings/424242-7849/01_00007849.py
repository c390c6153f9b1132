# runner fuzz: seed 424242, program 7849
# behaviours: import.stdlib
import tracemalloc


print(tracemalloc.is_tracing())
