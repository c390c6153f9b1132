# Mutator: sets sys attributes that change later behaviour (traceback length, prompts, bytecode).
import sys

sys.tracebacklimit = 0
sys.dont_write_bytecode = not sys.dont_write_bytecode
sys.ps1 = "polluted> "
sys.polluted = True
print("sys attributes set")
