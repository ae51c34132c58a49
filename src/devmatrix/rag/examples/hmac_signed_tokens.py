# id: hmac_signed_tokens
# title: Signed, expiring session tokens with HMAC-SHA256
# topic: auth
# tags: hmac, token, signature, expiry, session, authentication
import base64
import hashlib
import hmac
import json
import time


def sign(payload: dict, secret: bytes, ttl_s: int = 3600) -> str:
    body = base64.urlsafe_b64encode(json.dumps({**payload, "exp": int(time.time()) + ttl_s}).encode()).decode()
    signature = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{signature}"


def verify(token: str, secret: bytes) -> dict:
    """The payload, or ValueError for a forged, malformed or expired token."""
    body, _, signature = token.rpartition(".")
    expected = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, expected):
        raise ValueError("bad signature")
    payload = json.loads(base64.urlsafe_b64decode(body))
    if payload["exp"] < time.time():
        raise ValueError("token expired")
    return payload


if __name__ == "__main__":
    key = b"server-secret"
    token = sign({"user": "ada"}, key)
    assert verify(token, key)["user"] == "ada"
    tampered = token[:-1] + ("1" if token[-1] == "0" else "0")  # always a different last character
    for bad in (tampered, sign({"user": "ada"}, b"other"), sign({"user": "ada"}, key, ttl_s=-1)):
        try:
            verify(bad, key)
        except ValueError:
            continue
        raise AssertionError("a bad token was accepted")
