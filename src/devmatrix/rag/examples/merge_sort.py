# id: merge_sort
# title: Merge sort (stable, O(n log n))
# topic: algorithms
# tags: sorting, merge sort, divide and conquer, recursion
def merge_sort(items: list[int]) -> list[int]:
    """A new sorted list; the input is not changed."""
    if len(items) <= 1:
        return list(items)
    middle = len(items) // 2
    left, right = merge_sort(items[:middle]), merge_sort(items[middle:])
    merged: list[int] = []
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            j += 1
    return merged + left[i:] + right[j:]


if __name__ == "__main__":
    import random

    data = [random.randint(-100, 100) for _ in range(200)]
    assert merge_sort(data) == sorted(data)
    assert merge_sort([]) == [] and merge_sort([1]) == [1]
