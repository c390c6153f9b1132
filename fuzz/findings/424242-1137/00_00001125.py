# runner fuzz: seed 424242, program 1125
# behaviours: mutate.fds
import os


os.close(0)
print("stdin descriptor closed")
