"""The n-th Fibonacci number, memoized."""

from functools import cache


@cache
def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number (fibonacci(0) == 0, fibonacci(1) == 1).

    Each value is computed once: the memo (functools.cache) makes this O(n).
    """
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)
