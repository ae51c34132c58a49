"""RedisManager: the one way DevMatrix talks to Redis.

There is no fallback of any kind: if Redis cannot be reached, construction and
every call raise ServiceError naming the address and the fix. (The original
system silently switched to an in-memory dict, so a dead Redis looked healthy.)
"""

from __future__ import annotations

import redis

from devmatrix.config import Settings
from devmatrix.errors import ServiceError

# How long a command may wait on the socket; Redis answers in microseconds locally.
SOCKET_TIMEOUT_S = 5.0


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
        settings = settings or Settings()
        self.host = host or settings.redis_host
        self.port = int(port or settings.redis_port)
        password = password if password is not None else settings.redis_password.get_secret_value()
        self.prefix = prefix
        self.client = redis.Redis(
            host=self.host,
            port=self.port,
            password=password or None,
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
        )
        self.ping()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def key(self, *parts: str) -> str:
        """A namespaced key: ``prefix`` + parts joined by ``:``."""
        return self.prefix + ":".join(parts)

    def ping(self) -> None:
        """Raise ServiceError unless Redis answers PING."""
        try:
            self.client.ping()
        except redis.RedisError as error:
            raise ServiceError(
                "redis",
                f"cannot reach Redis at {self.address}: {error}",
                fix="start it with `invoke infra.up -s redis`, or check REDIS_HOST/REDIS_PORT",
            ) from error

    def close(self) -> None:
        self.client.close()
