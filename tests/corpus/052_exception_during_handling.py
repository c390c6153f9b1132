# An exception raised while handling another: "During handling of the above exception".
try:
    1 / 0
except ZeroDivisionError:
    [][1]
