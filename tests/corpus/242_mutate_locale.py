# Mutator: switches the C locale to "C" for every category.
import locale

print(locale.setlocale(locale.LC_ALL, "C"))
