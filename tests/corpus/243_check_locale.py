# Checker: the locale python set up at start-up (LC_CTYPE from the environment, the rest "C").
import locale

print(locale.setlocale(locale.LC_ALL), locale.setlocale(locale.LC_CTYPE), locale.setlocale(locale.LC_NUMERIC))
print(locale.getpreferredencoding(False), locale.localeconv()["decimal_point"])
