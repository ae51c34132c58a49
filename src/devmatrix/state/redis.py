"""RedisManager: the one way DevMatrix talks to Redis.

There is no fallback of any kind: if Redis cannot be reached, construction and
every call raise ServiceError naming the address and the fix. (The original
system silently switched to an in-memory dict, so a dead Redis looked healthy.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from devmatrix import clients
from devmatrix.config import Settings, load_settings


class RedisManager:
    """A connected Redis client with key namespacing (e.g. ``test:``)."""

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        password: str | None = None,
        *,
        settings: Settings | None = None,
        prefix: str = "",
    ) -> None:
        settings = settings or load_settings()
        self.host = host or settings.redis_host
        self.port = int(port or settings.redis_port)
        password = password if password is not None else settings.redis_password.get_secret_value()
        self.prefix = prefix
        self.client = clients.redis_client(settings, host=self.host, port=self.port,
                                           password=password or "")
        self.ping()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def key(self, *parts: str) -> str:
        """A namespaced key: ``prefix`` + parts joined by ``:``."""
        return self.prefix + ":".join(parts)

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Redis failures inside become ServiceError naming redis, the address and the fix."""
        with clients.redis_guard(self.address, what):
            yield

    def ping(self) -> None:
        """Raise ServiceError unless Redis answers PING."""
        with self.guard("PING"):
            self.client.ping()

    def close(self) -> None:
        self.client.close()
