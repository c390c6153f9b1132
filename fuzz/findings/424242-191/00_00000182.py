# runner fuzz: seed 424242, program 182
# behaviours: mutate.fds
import os


os.close(0)
print("stdin descriptor closed")
