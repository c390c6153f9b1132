# Imports of commonly preloaded and rarely preloaded modules work and report their module names;
# a missing module fails as usual.
import colorsys
import decimal
import json

print(json.dumps({"b": [1, 2], "a": None}, sort_keys=True), json.__name__)
print(decimal.Decimal("1.10") + decimal.Decimal("2.205"), colorsys.rgb_to_hsv(1.0, 0.0, 0.0))
try:
    import no_such_module_here  # noqa: F401
except ModuleNotFoundError as e:
    print(repr(e))
