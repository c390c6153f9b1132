# warnings.warn output on stderr: "file:line: Category: message" and the source line, once per
# location; DeprecationWarning shown in __main__.
import warnings


def old_api():
    warnings.warn("old_api is deprecated", DeprecationWarning, stacklevel=2)


for _ in range(3):
    warnings.warn("careful")
old_api()
warnings.warn("second location", RuntimeWarning)
print("done")
