# id: fibonacci_iterative
# title: Fibonacci numbers iteratively, as a generator
# topic: algorithms
# tags: fibonacci, generator, iteration, constant memory
from collections.abc import Iterator
from itertools import islice


def fibonacci_sequence() -> Iterator[int]:
    """Yield 0, 1, 1, 2, 3, ... forever, in O(1) memory."""
    a, b = 0, 1
    while True:
        yield a
        a, b = b, a + b


if __name__ == "__main__":
    assert list(islice(fibonacci_sequence(), 8)) == [0, 1, 1, 2, 3, 5, 8, 13]
    assert next(islice(fibonacci_sequence(), 50, None)) == 12586269025
