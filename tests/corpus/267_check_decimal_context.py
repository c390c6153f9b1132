# Checker: the default decimal context.
import decimal

ctx = decimal.getcontext()
print(ctx.prec, ctx.rounding, ctx.traps[decimal.Inexact], decimal.Decimal(1) / decimal.Decimal(7))
