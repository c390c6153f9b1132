# The smallest program: what every interpreter start-up is paid for.
print("hello from runner")
