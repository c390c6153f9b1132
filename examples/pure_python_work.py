# Pure-Python work: a small sieve and a word count.
import collections

def primes(n):
    sieve = bytearray([1]) * (n + 1)
    sieve[0:2] = b"\0\0"
    for i in range(2, int(n**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return [i for i, v in enumerate(sieve) if v]

p = primes(100_000)
print(len(p), p[-1])
words = collections.Counter("the quick brown fox jumps over the lazy dog the end".split())
print(words.most_common(2))
