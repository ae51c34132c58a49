# id: sieve_of_eratosthenes
# title: Prime numbers with the sieve of Eratosthenes
# topic: algorithms
# tags: primes, sieve, number theory
def primes_up_to(limit: int) -> list[int]:
    """Every prime <= limit."""
    if limit < 2:
        return []
    is_prime = [True] * (limit + 1)
    is_prime[0] = is_prime[1] = False
    for n in range(2, int(limit**0.5) + 1):
        if is_prime[n]:
            is_prime[n * n :: n] = [False] * len(range(n * n, limit + 1, n))
    return [n for n, prime in enumerate(is_prime) if prime]


if __name__ == "__main__":
    assert primes_up_to(30) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert primes_up_to(1) == [] and len(primes_up_to(10_000)) == 1229
