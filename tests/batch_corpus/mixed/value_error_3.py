# Fails with the same last exception line as the other value_error_*.py, from a different place:
# the three make one failure bucket, "ValueError: shared bug".
def step_3():
    raise ValueError("shared bug")


print("value error 3")
step_3()
