# id: linked_list
# title: A singly linked list with append, iteration and reversal
# topic: data_structures
# tags: linked list, node, iterator, reverse
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass
class Node:
    value: int
    next: Node | None = None


class LinkedList:
    def __init__(self, values: Iterable[int] = ()) -> None:
        self.head: Node | None = None
        self.tail: Node | None = None
        for value in values:
            self.append(value)

    def append(self, value: int) -> None:
        node = Node(value)
        if self.tail is None:
            self.head = self.tail = node
        else:
            self.tail.next = node
            self.tail = node

    def __iter__(self) -> Iterator[int]:
        node = self.head
        while node:
            yield node.value
            node = node.next

    def reverse(self) -> None:
        previous, node = None, self.head
        self.tail = node
        while node:
            node.next, previous, node = previous, node, node.next
        self.head = previous


if __name__ == "__main__":
    items = LinkedList([1, 2, 3])
    items.append(4)
    assert list(items) == [1, 2, 3, 4]
    items.reverse()
    assert list(items) == [4, 3, 2, 1]
    items.append(0)
    assert list(items) == [4, 3, 2, 1, 0]
