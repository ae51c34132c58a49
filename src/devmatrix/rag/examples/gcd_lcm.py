# id: gcd_lcm
# title: Greatest common divisor and least common multiple
# topic: algorithms
# tags: gcd, lcm, euclid, math
def gcd(a: int, b: int) -> int:
    """Euclid's algorithm; gcd(0, 0) == 0."""
    a, b = abs(a), abs(b)
    while b:
        a, b = b, a % b
    return a


def lcm(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else abs(a * b) // gcd(a, b)


if __name__ == "__main__":
    import math

    for x, y in [(12, 18), (7, 5), (0, 9), (-4, 6), (0, 0)]:
        assert gcd(x, y) == math.gcd(x, y)
        assert lcm(x, y) == math.lcm(x, y)
