"""A User model with validation."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class User:
    """A user: a positive id, a non-empty username and a valid e-mail address."""

    id: int
    username: str
    email: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.id <= 0:
            raise ValueError(f"id must be positive, got {self.id}")
        if not self.username.strip():
            raise ValueError("username must not be empty")
        if not _EMAIL.match(self.email):
            raise ValueError(f"invalid e-mail address: {self.email!r}")

    def to_dict(self) -> dict[str, object]:
        """The user as JSON-ready data."""
        return {"id": self.id, "username": self.username, "email": self.email,
                "created_at": self.created_at.isoformat()}
