"""Tests for the todo model and repository."""

import pytest
from todo import Todo, TodoNotFound, TodoRepository


@pytest.fixture
def repo():
    return TodoRepository()


def test_create_then_get_returns_the_same_todo(repo):
    todo = repo.create("  buy milk ")
    assert todo == Todo(1, "buy milk", done=False)
    assert repo.get(todo.id) == todo


def test_list_is_in_creation_order(repo):
    titles = ["a", "b", "c"]
    for title in titles:
        repo.create(title)
    assert [t.title for t in repo.list()] == titles


def test_update_changes_only_what_is_given(repo):
    todo = repo.create("write tests")
    assert repo.update(todo.id, done=True) == Todo(todo.id, "write tests", done=True)
    assert repo.update(todo.id, title="write more tests").done is True


def test_delete_removes_it(repo):
    todo = repo.create("temporary")
    repo.delete(todo.id)
    assert repo.list() == []
    with pytest.raises(TodoNotFound):
        repo.get(todo.id)


@pytest.mark.parametrize("title", ["", "   "])
def test_a_blank_title_is_refused(repo, title):
    with pytest.raises(ValueError, match="title must not be empty"):
        repo.create(title)


def test_unknown_ids_are_not_found(repo):
    for call in (lambda: repo.get(99), lambda: repo.update(99, done=True), lambda: repo.delete(99)):
        with pytest.raises(TodoNotFound):
            call()
