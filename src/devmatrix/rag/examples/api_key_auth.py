# id: api_key_auth
# title: API keys stored as hashes and checked in constant time
# topic: auth
# tags: api key, authentication, sha256, constant time, secrets.token_urlsafe
import hashlib
import hmac
import secrets


def new_api_key() -> tuple[str, str]:
    """(the key to give the user once, the hash to store)."""
    key = "dm_" + secrets.token_urlsafe(32)
    return key, hashlib.sha256(key.encode()).hexdigest()


def key_is_valid(presented: str, stored_hashes: set[str]) -> bool:
    digest = hashlib.sha256(presented.encode()).hexdigest()
    return any(hmac.compare_digest(digest, stored) for stored in stored_hashes)


if __name__ == "__main__":
    key, stored = new_api_key()
    assert key.startswith("dm_") and len(stored) == 64 and key not in stored
    assert key_is_valid(key, {stored}) and not key_is_valid(key + "x", {stored})
