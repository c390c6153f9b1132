# Mutator: enables faulthandler (and a dump-later timer that fires only after this program ends).
import faulthandler

faulthandler.enable()
faulthandler.dump_traceback_later(30, exit=True)
print(faulthandler.is_enabled())
