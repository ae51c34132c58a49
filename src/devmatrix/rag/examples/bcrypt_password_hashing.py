# id: bcrypt_password_hashing
# title: Password hashing and verification with bcrypt
# topic: auth
# tags: bcrypt, password, hashing, salt, authentication, login
import bcrypt


def hash_password(password: str, rounds: int = 12) -> bytes:
    """A salted bcrypt hash; store this, never the password."""
    if len(password.encode()) > 72:
        raise ValueError("bcrypt reads at most 72 bytes of a password")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds))


def verify_password(password: str, hashed: bytes) -> bool:
    return bcrypt.checkpw(password.encode(), hashed)


if __name__ == "__main__":
    stored = hash_password("correct horse battery staple", rounds=4)  # low cost: only for the test
    assert stored.startswith(b"$2b$04$")
    assert verify_password("correct horse battery staple", stored)
    assert not verify_password("wrong", stored)
    assert hash_password("same", rounds=4) != hash_password("same", rounds=4)  # a new salt each time
