# runner fuzz: seed 424242, program 1898
# behaviours: exit.abort
import os


print("before abort", flush=True)
print("lost in the buffer")
os.abort()
