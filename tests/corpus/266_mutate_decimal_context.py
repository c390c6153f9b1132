# Mutator: changes the (thread-local) decimal context of the main thread.
import decimal

decimal.getcontext().prec = 5
decimal.getcontext().traps[decimal.Inexact] = True
print(decimal.getcontext().prec)
