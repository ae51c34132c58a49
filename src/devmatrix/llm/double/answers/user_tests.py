"""Tests for the User model."""

import pytest
from user import User


def test_a_valid_user_keeps_its_fields():
    user = User(id=1, username="ada", email="ada@example.com")
    assert (user.id, user.username, user.email) == (1, "ada", "ada@example.com")
    assert user.to_dict()["email"] == "ada@example.com"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"id": 0, "username": "ada", "email": "ada@example.com"}, "id must be positive"),
    ({"id": 1, "username": " ", "email": "ada@example.com"}, "username must not be empty"),
    ({"id": 1, "username": "ada", "email": "not-an-email"}, "invalid e-mail"),
])
def test_invalid_users_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        User(**kwargs)
