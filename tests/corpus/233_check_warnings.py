# Checker: the default warning filters; a warning prints to stderr instead of raising.
import warnings

print(warnings.filters)
warnings.warn("careful")
warnings.warn("a user warning")
print("still running")
