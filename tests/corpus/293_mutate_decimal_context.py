# Mutator: changes decimal's current context (a context variable) and sets a context variable of its own.
import contextvars
import decimal

decimal.getcontext().prec = 5
VAR = contextvars.ContextVar("runner_corpus")
VAR.set("leaked")
print(decimal.Decimal(1) / decimal.Decimal(7))
