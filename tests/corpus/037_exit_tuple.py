# raise SystemExit with several arguments: the code is the tuple, printed to stderr, returncode 1.
raise SystemExit(4, "two")
