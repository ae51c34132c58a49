# id: binary_search
# title: Binary search in a sorted list
# topic: algorithms
# tags: binary search, bisect, sorted list, O(log n)
from collections.abc import Sequence


def binary_search(items: Sequence[int], target: int) -> int:
    """Index of ``target`` in the sorted ``items``, or -1 when absent."""
    low, high = 0, len(items) - 1
    while low <= high:
        mid = (low + high) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            low = mid + 1
        else:
            high = mid - 1
    return -1


if __name__ == "__main__":
    data = [1, 3, 5, 7, 9, 11]
    assert all(binary_search(data, x) == i for i, x in enumerate(data))
    assert binary_search(data, 4) == -1 and binary_search([], 1) == -1
