# id: stack_and_queue
# title: Stack and queue with collections.deque, and balanced brackets
# topic: data_structures
# tags: stack, queue, deque, LIFO, FIFO, brackets
from collections import deque

PAIRS = {")": "(", "]": "[", "}": "{"}


def balanced(text: str) -> bool:
    """True when every bracket is closed in the right order (a stack)."""
    stack: list[str] = []
    for char in text:
        if char in "([{":
            stack.append(char)
        elif char in PAIRS and (not stack or stack.pop() != PAIRS[char]):
            return False
    return not stack


if __name__ == "__main__":
    queue = deque([1, 2])
    queue.append(3)
    assert queue.popleft() == 1 and list(queue) == [2, 3]  # FIFO
    assert balanced("f(a[1], {b: 2})") and not balanced("(]") and not balanced("((")
