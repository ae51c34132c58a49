"""User authentication with salted PBKDF2 password hashing (standard library only)."""

import hashlib
import hmac
import os
from collections.abc import Callable

ITERATIONS = 600_000


def hash_password(password: str, salt: bytes | None = None) -> bytes:
    """salt (16 bytes) + PBKDF2-HMAC-SHA256 of the password."""
    if not password:
        raise ValueError("password must not be empty")
    salt = salt or os.urandom(16)
    return salt + hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)


def authenticate_user(username: str, password: str, get_password_hash: Callable[[str], bytes | None]) -> bool:
    """True when ``password`` matches the hash stored for ``username`` (compared in constant time)."""
    stored = get_password_hash(username)
    if stored is None:
        return False
    return hmac.compare_digest(hash_password(password, stored[:16]), stored)
