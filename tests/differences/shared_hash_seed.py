# docs/differences.md "Hash randomisation": without PYTHONHASHSEED, programs of one run share a seed.
print(hash("runner-difference"))
