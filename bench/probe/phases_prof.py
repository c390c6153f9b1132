# phases.py under cProfile: the top of the first compile's profile.
import cProfile, io, pstats, os
pr = cProfile.Profile()
pr.enable()
exec(compile(open(os.path.join(os.path.dirname(__file__), "phases.py")).read(), "phases.py", "exec"))
pr.disable()
s = io.StringIO()
pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(40)
print("\n".join(l[:200] for l in s.getvalue().splitlines()[:70]))
