# docs/differences.md "Modules already imported": a program that never imports threading but leaves
# a profile function sees threading's shutdown run in runner (its own code imported threading), not
# in python (no threading in sys.modules, so nothing to shut down).
import sys


def profiler(frame, event, arg, _out=sys.__stdout__):
    if event == "call" and frame.f_code.co_name == "_shutdown":
        _out.write("threading shutdown seen\n")


sys.setprofile(profiler)
