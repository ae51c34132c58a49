"""User authentication with bcrypt password hashing."""

from collections.abc import Callable


def hash_password(password: str) -> bytes:
    """Hash a password with bcrypt and a fresh salt."""
    import bcrypt

    if not password:
        raise ValueError("password must not be empty")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt())


def authenticate_user(username: str, password: str, get_password_hash: Callable[[str], bytes | None]) -> bool:
    """True when ``password`` matches the bcrypt hash stored for ``username``.

    An unknown user is False, and costs the same as a wrong password (no user enumeration).
    """
    import bcrypt

    stored_hash = get_password_hash(username)
    if stored_hash is None:
        bcrypt.checkpw(password.encode(), bcrypt.hashpw(b"", bcrypt.gensalt()))
        return False
    return bcrypt.checkpw(password.encode(), stored_hash)
