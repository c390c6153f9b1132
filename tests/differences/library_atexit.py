import fake_exit  # noqa: F401

print("main")
