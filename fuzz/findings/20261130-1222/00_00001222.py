# runner fuzz: seed 20261130, program 1222
# behaviours: mutate.sys_modules, mp.fork
import multiprocessing
import os
import sys
import types


def mp_child_4(k):
    print("mp child 4", k)
    raise ValueError("child 4 failed")


sys.modules["textwrap"] = types.ModuleType("fake textwrap")
import textwrap as tw_1
print("textwrap replaced", hasattr(tw_1, "fill"))
p_4 = multiprocessing.get_context("fork").Process(target=mp_child_4, args=(4,))
p_4.start()
p_4.join()
print("mp exit code", p_4.exitcode, p_4.name)
