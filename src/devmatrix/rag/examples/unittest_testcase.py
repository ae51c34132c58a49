# id: unittest_testcase
# title: Unit tests with unittest.TestCase, setUp and assertRaises
# topic: testing
# tags: unittest, TestCase, setUp, assertRaises, unit tests
import unittest


class Stack:
    def __init__(self) -> None:
        self._items: list[int] = []

    def push(self, item: int) -> None:
        self._items.append(item)

    def pop(self) -> int:
        if not self._items:
            raise IndexError("pop from an empty stack")
        return self._items.pop()


class StackTest(unittest.TestCase):
    def setUp(self) -> None:
        self.stack = Stack()

    def test_last_in_first_out(self) -> None:
        self.stack.push(1)
        self.stack.push(2)
        self.assertEqual(self.stack.pop(), 2)

    def test_empty_pop_raises(self) -> None:
        with self.assertRaises(IndexError):
            self.stack.pop()


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=0).result
    assert result.wasSuccessful() and result.testsRun == 2
