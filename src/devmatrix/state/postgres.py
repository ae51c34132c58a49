"""PostgresManager: pooled connections to the DevMatrix database."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extras
import psycopg2.pool

from devmatrix.config import Settings
from devmatrix.errors import ServiceError

CONNECT_TIMEOUT_S = 5
POOL_MAX_CONNECTIONS = 8


class PostgresManager:
    """A small connection pool with `execute()` for one statement per call."""

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        database: str | None = None,
        user: str | None = None,
        password: str | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        settings = settings or Settings()
        self.params: dict[str, Any] = {
            "host": host or settings.postgres_host,
            "port": int(port or settings.postgres_port),
            "dbname": database or settings.postgres_db,
            "user": user or settings.postgres_user,
            "password": password
            if password is not None
            else settings.postgres_password.get_secret_value(),
            "connect_timeout": CONNECT_TIMEOUT_S,
        }
        try:
            self._pool = psycopg2.pool.ThreadedConnectionPool(1, POOL_MAX_CONNECTIONS, **self.params)
        except psycopg2.Error as error:
            raise self._error("cannot connect", error) from error

    @property
    def address(self) -> str:
        p = self.params
        return f"{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"

    def _error(self, what: str, error: Exception) -> ServiceError:
        return ServiceError(
            "postgres",
            f"{what} ({self.address}): {str(error).strip()}",
            fix="start it with `invoke infra.up -s postgres` and create the schema with `invoke db`",
        )

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled connection in a transaction: committed on success, rolled back on error."""
        try:
            conn = self._pool.getconn()
        except psycopg2.Error as error:
            raise self._error("cannot get a connection", error) from error
        try:
            with conn:
                yield conn
        finally:
            self._pool.putconn(conn)

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[dict]:
        """Run one statement; return its rows as dicts (empty for statements without rows)."""
        try:
            with self.connection() as conn, conn.cursor(
                cursor_factory=psycopg2.extras.RealDictCursor
            ) as cursor:
                cursor.execute(sql, params)
                return [dict(row) for row in cursor.fetchall()] if cursor.description else []
        except psycopg2.Error as error:
            raise self._error("query failed", error) from error

    def get_generation(self, log_id: int) -> dict | None:
        """One row of code_generation_logs, or None."""
        rows = self.execute("SELECT * FROM code_generation_logs WHERE id = %s", (log_id,))
        return rows[0] if rows else None

    def close(self) -> None:
        self._pool.closeall()
