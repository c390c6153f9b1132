# The first failure in sorted order: --fail-fast must stop here.
raise AssertionError("third program fails")
