# id: binary_search_tree
# title: Binary search tree with insert, search and in-order traversal
# topic: data_structures
# tags: binary tree, BST, recursion, traversal
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class TreeNode:
    key: int
    left: TreeNode | None = None
    right: TreeNode | None = None


class BinarySearchTree:
    def __init__(self) -> None:
        self.root: TreeNode | None = None

    def insert(self, key: int) -> None:
        if self.root is None:
            self.root = TreeNode(key)
            return
        node = self.root
        while True:
            side = "left" if key < node.key else "right"
            child = getattr(node, side)
            if child is None:
                setattr(node, side, TreeNode(key))
                return
            node = child

    def __contains__(self, key: int) -> bool:
        node = self.root
        while node and node.key != key:
            node = node.left if key < node.key else node.right
        return node is not None

    def in_order(self) -> Iterator[int]:
        def walk(node: TreeNode | None) -> Iterator[int]:
            if node:
                yield from walk(node.left)
                yield node.key
                yield from walk(node.right)

        return walk(self.root)


if __name__ == "__main__":
    tree = BinarySearchTree()
    for k in [5, 3, 8, 1, 4, 9]:
        tree.insert(k)
    assert list(tree.in_order()) == [1, 3, 4, 5, 8, 9]
    assert 4 in tree and 7 not in tree
