"""Response cache in Redis, keyed by everything that determines a reply."""

from __future__ import annotations

import hashlib
import json

from devmatrix.llm._constants import CACHE_KEY_PREFIX, CACHE_TTL_S
from devmatrix.state.redis import RedisManager


def cache_key(*, model: str, backend: str, base_url: str, system: str | None, messages: list[dict],
              max_tokens: int, temperature: float) -> str:
    """Same request → same key; any difference in model, endpoint, prompt or parameters → another
    key. The endpoint counts: a reply of the Messages-API double (or of a gateway) is never served
    to a call meant for the paid API at another URL."""
    payload = json.dumps(
        {"model": model, "backend": backend, "base_url": base_url, "system": system, "messages": messages,
         "max_tokens": max_tokens, "temperature": temperature},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return CACHE_KEY_PREFIX + hashlib.sha256(payload.encode()).hexdigest()


class ResponseCache:
    """Entries live under the manager's prefix (``test:`` in tests), so whoever owns the
    prefix can find and remove them."""

    def __init__(self, redis_manager: RedisManager, ttl_s: int = CACHE_TTL_S) -> None:
        self.redis = redis_manager
        self.ttl_s = ttl_s

    def get(self, key: str) -> dict | None:
        with self.redis.guard("LLM cache read"):
            raw = self.redis.client.get(self.redis.key(key))
        return json.loads(raw) if raw else None

    def set(self, key: str, value: dict) -> None:
        with self.redis.guard("LLM cache write"):
            self.redis.client.set(self.redis.key(key), json.dumps(value), ex=self.ttl_s)
