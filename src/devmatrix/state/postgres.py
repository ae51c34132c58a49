"""PostgresManager: pooled connections to the DevMatrix database.

Every connection carries the deadlines of devmatrix.clients. A pooled connection
that died (the server restarted) is found by a ping before the statement is sent
and replaced once, transparently; a statement that fails on the wire is never
re-sent (it may have run), it raises ServiceError.

A connection is checked out for one statement (``execute``) or one transaction
(``connection()``), never for longer. psycopg2's pool refuses at once when every
connection is out; here a caller waits up to POSTGRES_POOL_WAIT_S for one to come
back, then gets ServiceBusy (429: busy, not down), never an outage.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extras
import psycopg2.pool

from devmatrix import clients
from devmatrix.config import Settings, load_settings
from devmatrix.deadlines import POSTGRES_POOL_WAIT_S, PROBE_TIMEOUT_S
from devmatrix.errors import InvalidValue, ServiceError

MAX_LOG_ID = 2**31 - 1  # code_generation_logs.id is SERIAL: a 4-byte integer

# Connections one PostgresManager opens at most: a CLI generation or a workflow's parallel
# branches use one at a time each. The API sizes its own pool to its generation bound
# (api/resources.py).
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
        max_connections: int = POOL_MAX_CONNECTIONS,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections={max_connections}: a pool needs at least one connection")
        settings = settings or load_settings()
        self.max_connections = max_connections
        # one permit per connection: a thread waits here (bounded) instead of psycopg2 refusing
        self._permits = threading.BoundedSemaphore(max_connections)
        self.params: dict[str, Any] = {
            **clients.postgres_params(settings),
            "host": host or settings.postgres_host,
            "port": int(port or settings.postgres_port),
            "dbname": database or settings.postgres_db,
            "user": user or settings.postgres_user,
            "password": password
            if password is not None
            else settings.postgres_password.get_secret_value(),
        }
        try:
            self._pool = clients.reconnecting(
                lambda: psycopg2.pool.ThreadedConnectionPool(1, max_connections, **self.params))
        except psycopg2.Error as error:
            raise self._error("cannot connect", error) from error

    @property
    def address(self) -> str:
        p = self.params
        return f"{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"

    def _error(self, what: str, error: Exception) -> ServiceError:
        return clients.postgres_error(self.address, what, error)

    def _checkout(self) -> Any:
        """A live pooled connection: one that fails a ping is closed and replaced, once."""
        for attempt in (1, 2):
            try:
                conn = clients.reconnecting(self._pool.getconn)
            except psycopg2.Error as error:
                raise self._error("cannot get a connection", error) from error
            try:
                if _alive(conn):
                    return conn
            except clients.PostgresTimeout as error:
                self._pool.putconn(conn, close=True)
                raise self._error("the server did not answer a ping", error) from error
            self._pool.putconn(conn, close=True)  # dead (server restarted): drop it, open a new one
            if attempt == 2:
                raise self._error("the server does not answer", psycopg2.OperationalError("ping failed twice"))
        raise AssertionError("unreachable")

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled connection in a transaction: committed on success, rolled back on error.

        Hold it only for the statements of one transaction: it is one of ``max_connections``.
        """
        if not self._permits.acquire(timeout=POSTGRES_POOL_WAIT_S):
            exhausted = psycopg2.pool.PoolError(
                f"connection pool exhausted: all {self.max_connections} connections stayed in use"
                f" for {POSTGRES_POOL_WAIT_S:g} s")
            raise self._error("cannot get a connection", exhausted)
        try:
            conn = self._checkout()
            broken = False
            try:
                with conn:
                    yield conn
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                broken = True  # a connection that failed on the wire is never reused
                raise
            finally:
                self._pool.putconn(conn, close=broken or bool(conn.closed))
        finally:
            self._permits.release()

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
        """One row of code_generation_logs, or None. An id the column cannot hold (its type is
        SERIAL, 1 to 2**31 - 1) is refused here, naming it, never sent for Postgres to reject."""
        if isinstance(log_id, bool) or not isinstance(log_id, int) or not 1 <= log_id <= MAX_LOG_ID:
            raise InvalidValue(f"log id {log_id!r} is not a generation's id (a whole number from 1 to {MAX_LOG_ID})",
                               fix="use the log_id a generation returned (`devmatrix generate --json` prints it)")
        rows = self.execute("SELECT * FROM code_generation_logs WHERE id = %s", (log_id,))
        return rows[0] if rows else None

    def close(self) -> None:
        self._pool.closeall()


def _alive(conn: Any) -> bool:
    """A cheap round trip on an idle connection (the pre-ping): False when it is dead."""
    if conn.closed:
        return False
    try:
        with clients.postgres_io_timeout(PROBE_TIMEOUT_S), conn.cursor() as cursor:
            cursor.execute("SELECT 1")
        conn.rollback()  # end the ping's transaction; the caller starts its own
        return True
    except clients.PostgresTimeout:
        conn.close()
        raise  # the server is there but frozen: a new connection would wait too
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        return False
