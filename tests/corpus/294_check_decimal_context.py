# Checker: decimal's context and the thread's context variables are fresh.
import contextvars
import decimal

print(decimal.getcontext().prec, decimal.Decimal(1) / decimal.Decimal(7))
print(sorted(v.name for v in contextvars.copy_context()))
