"""A todo item and an in-memory repository (create, read, update, delete)."""

import itertools
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Todo:
    """One todo item."""

    id: int
    title: str
    done: bool = False


class TodoNotFound(KeyError):
    """No todo has this id."""


class TodoRepository:
    """Todos kept in memory."""

    def __init__(self) -> None:
        self._items: dict[int, Todo] = {}
        self._ids = itertools.count(1)

    def create(self, title: str) -> Todo:
        """Add a todo; a blank title is a ValueError."""
        todo = Todo(next(self._ids), _title(title))
        self._items[todo.id] = todo
        return todo

    def get(self, todo_id: int) -> Todo:
        """The todo with this id, or TodoNotFound."""
        if todo_id not in self._items:
            raise TodoNotFound(todo_id)
        return self._items[todo_id]

    def list(self) -> list[Todo]:
        """Every todo, oldest first."""
        return sorted(self._items.values(), key=lambda t: t.id)

    def update(self, todo_id: int, *, title: str | None = None, done: bool | None = None) -> Todo:
        """Change the title and/or the done flag."""
        old = self.get(todo_id)
        todo = replace(old, title=old.title if title is None else _title(title),
                       done=old.done if done is None else done)
        self._items[todo_id] = todo
        return todo

    def delete(self, todo_id: int) -> None:
        """Remove a todo, or TodoNotFound."""
        self.get(todo_id)
        del self._items[todo_id]


def _title(title: str) -> str:
    if not title.strip():
        raise ValueError("title must not be empty")
    return title.strip()
