# id: fibonacci_memo
# title: Fibonacci with memoization
# topic: algorithms
# tags: fibonacci, memoization, recursion, functools.lru_cache, dynamic programming
from functools import cache


@cache
def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number (fibonacci(0) == 0), memoized so each n is computed once."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)


if __name__ == "__main__":
    assert [fibonacci(i) for i in range(10)] == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]
    assert fibonacci(90) == 2880067194370816120
    try:
        fibonacci(-1)
    except ValueError:
        pass
    else:
        raise AssertionError("negative n must be rejected")
