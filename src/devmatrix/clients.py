"""One factory per store: every Postgres, Redis and Chroma client is built here, from Settings.

Each client gets the deadlines of devmatrix.deadlines, so a dead or frozen
server ends a call in bounded time; and each failure of the transport becomes
one ServiceError naming the service, its address and the fix (``*_error``).
Ops, agents, the API and the tests all build their clients here.
"""

from __future__ import annotations

import contextvars
import select
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx
import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.pool
import redis
import requests
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from devmatrix import deadlines
from devmatrix.config import Settings
from devmatrix.errors import DevMatrixError, NotSetUp, ServiceBusy, ServiceError, StatementRejected
from devmatrix.retry import retry

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

# --- PostgreSQL -------------------------------------------------------------------------
# libpq has no read timeout: a statement sent to a frozen server waits forever. psycopg2's
# wait callback (the hook for green threads) lets us do every wait with select() and a
# deadline instead. It is process-wide by design, so every connection gets it.
_PG_IO_TIMEOUT = contextvars.ContextVar("postgres_io_timeout_s", default=deadlines.POSTGRES_IO_TIMEOUT_S)


class PostgresTimeout(psycopg2.OperationalError):
    """The server sent nothing within the deadline (it is frozen, or the network is)."""


def _wait_with_deadline(conn: Any) -> None:
    timeout = _PG_IO_TIMEOUT.get()
    while True:
        try:
            state = conn.poll()
            if state == psycopg2.extensions.POLL_OK:
                return
            if state == psycopg2.extensions.POLL_READ:
                ready = select.select([conn.fileno()], [], [], timeout)[0]
            elif state == psycopg2.extensions.POLL_WRITE:
                ready = select.select([], [conn.fileno()], [], timeout)[1]
            else:
                raise psycopg2.OperationalError(f"bad state from poll: {state}")
        except KeyboardInterrupt:
            conn.cancel()  # ask the server to stop the statement, as psycopg2's own callback does
            continue
        if not ready:
            raise PostgresTimeout(f"no answer from the server within {timeout:g} s")


psycopg2.extensions.set_wait_callback(_wait_with_deadline)


@contextmanager
def postgres_io_timeout(seconds: float) -> Iterator[None]:
    """A shorter deadline for the connections and statements inside (readiness probes)."""
    token = _PG_IO_TIMEOUT.set(seconds)
    try:
        yield
    finally:
        _PG_IO_TIMEOUT.reset(token)


def postgres_params(settings: Settings, *, database: str | None = None) -> dict[str, Any]:
    """Connection keywords with every deadline; ``database`` defaults to POSTGRES_DB."""
    return {
        **settings.postgres_dsn_params,
        **({"dbname": database} if database else {}),
        "connect_timeout": int(deadlines.CONNECT_TIMEOUT_S),
        "options": f"-c statement_timeout={deadlines.POSTGRES_STATEMENT_TIMEOUT_MS}",
        "application_name": "devmatrix",
        **deadlines.POSTGRES_KEEPALIVES,
    }


def postgres_address(settings: Settings, database: str | None = None) -> str:
    return (f"{settings.postgres_user}@{settings.postgres_host}:{settings.postgres_port}"
            f"/{database or settings.postgres_db}")


def fix_for(service: str, setting_prefix: str) -> str:
    """The one fix text for a service that is down or hung."""
    return (f"`invoke infra.status`; down: `invoke infra.up -s {service}`; hung:"
            f" `invoke infra.restart -s {service}`; then `invoke infra.logs {service}`"
            f" (check {setting_prefix}_HOST/{setting_prefix}_PORT)")


def postgres_error(address: str, what: str, error: Exception) -> ServiceError | StatementRejected | NotSetUp:
    """The one mapping of a psycopg2 failure: an outage (ServiceError), a full pool (ServiceBusy),
    a statement Postgres refused (StatementRejected: the server is fine), or a missing table
    (NotSetUp: `invoke db`).

    psycopg2's pool raises PoolError("connection pool exhausted") when every connection is
    checked out: the server is fine, this process is asking for more than its pool holds.
    """
    return _postgres_row("postgres", f"{what} ({address})", error, None)


# What Postgres says when it is up and refuses the statement itself: bad data (22: a malformed
# uuid, an integer out of range, a date that does not exist), a broken constraint (23), a statement
# that does not fit the schema (42: syntax, a missing table or column), a feature it lacks (0A).
# An outage is the rest: OperationalError (connects, timeouts, a server shutting down, a full
# disk), InterfaceError (a closed connection), InternalError, a pool that is closed.
REJECTED: tuple[type[psycopg2.Error], ...] = (psycopg2.DataError, psycopg2.IntegrityError,
                                               psycopg2.ProgrammingError, psycopg2.NotSupportedError)
REJECTED_FIX = ("Postgres is up and answered: this is not an outage, do not restart it. It refused the"
                " statement or a value in it (named above); a value a user sends is checked before it"
                " reaches Postgres, so this is a bug: report it with this message")


# A table or column that is not there: the database's migrations were not applied (a setup step).
_NOT_MIGRATED = (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn)


def _rejected(what: str, error: psycopg2.Error) -> StatementRejected | NotSetUp:
    code = getattr(error, "pgcode", None)
    kind = type(error).__name__
    detail = (getattr(error, "pgerror", None) or str(error)).strip().removeprefix("ERROR:").strip()
    if isinstance(error, _NOT_MIGRATED):
        return NotSetUp(f"{what}: the database has no such table or column ({detail.splitlines()[0]})",
                        fix="`invoke db` applies the migrations (a database restored from an older backup"
                            " needs them too)")
    return StatementRejected(f"{what}: Postgres rejected the statement ({kind}, SQLSTATE {code}): {detail}",
                             sqlstate=code, fix=REJECTED_FIX)


def _pool_busy(what: str, error: Exception) -> ServiceBusy:
    return ServiceBusy(
            "postgres", f"busy, not down: {what}: every pooled connection is in use"
                        f" ({str(error).strip()})",
            retry_after_s=deadlines.POSTGRES_BUSY_RETRY_AFTER_S,
            fix="retry in a moment; the server is healthy, do not restart it. If this lasts, fewer"
                " requests at once (the API: API_MAX_CONCURRENT_GENERATIONS) keep within the pool")


# Refusals that end by themselves: a server restarting (refused, starting up, shutting down, and
# after a kill -9 its crash recovery: "not yet accepting connections", "in recovery mode").
# A wrong password, a missing database or a frozen server (PostgresTimeout) do not.
# Waits between connects to a restarting server: 0.1 s, doubling, at most 1 s.
RECONNECT_FIRST_WAIT_S = 0.1
RECONNECT_MAX_WAIT_S = 1.0
_RESTARTING = ("connection refused", "starting up", "shutting down", "terminating connection",
               "server closed the connection", "no connection to the server", "not yet accepting connections",
               "in recovery mode")


def _restarting(error: BaseException) -> bool:
    """A connect error of a server that is starting or stopping (not a frozen one, not a refusal)."""
    return not isinstance(error, PostgresTimeout) and any(s in str(error).lower() for s in _RESTARTING)


def reconnecting(connect, *, window_s: float = deadlines.POSTGRES_RECONNECT_WINDOW_S):
    """``connect()``, retried while the server is restarting, for at most ``window_s``.

    Only connecting is retried: no statement has been sent, so nothing can run twice.
    """
    return retry(connect, on=(psycopg2.OperationalError,), when=_restarting, timeout_s=window_s,
                 wait_s=RECONNECT_FIRST_WAIT_S, max_wait_s=RECONNECT_MAX_WAIT_S)


def postgres_connect(settings: Settings, *, database: str | None = None, autocommit: bool = False,
                     window_s: float = deadlines.POSTGRES_RECONNECT_WINDOW_S):
    """One connection (admin work, probes); ServiceError when the server does not answer."""
    try:
        conn = reconnecting(lambda: psycopg2.connect(**postgres_params(settings, database=database)),
                            window_s=window_s)
    except psycopg2.Error as error:
        raise postgres_error(postgres_address(settings, database), "cannot connect", error) from error
    conn.autocommit = autocommit
    return conn


# --- the one mapping of library errors to ours (httpx's _exceptions.map_exceptions) ----------
# What a failure of each client library means; the first row that matches decides.
def _postgres_row(service: str, what: str, error: Exception,
                  fix: str | None) -> ServiceError | StatementRejected | NotSetUp:
    if isinstance(error, psycopg2.pool.PoolError) and "exhausted" in str(error):
        return _pool_busy(what, error)
    if isinstance(error, REJECTED):
        return _rejected(what, error)  # never the caller's outage fix: nothing is down
    return ServiceError(service, f"{what}: {str(error).strip()}", fix=fix or fix_for(service, "POSTGRES"))


def _redis_row(service: str, what: str, error: Exception, fix: str | None) -> ServiceError:
    return ServiceError(service, f"{what}: {error}", fix=fix or fix_for(service, "REDIS"))


def _transport_row(service: str, what: str, error: Exception, fix: str | None) -> ServiceError:
    return ServiceError(service, f"{what}: {error}", fix=fix or f"`invoke infra.up -s {service}`,"
                                                                f" then `invoke infra.logs {service}`")


def _broker_row(service: str, what: str, error: Exception, fix: str | None) -> ServiceError:
    return ServiceError(service, f"{what}: {error}", fix=fix or fix_for("redis", "REDIS"))


Row = Callable[[str, str, Exception, str | None], DevMatrixError]
# A class named by its dotted path is matched only once its module is loaded (sys.modules), and is
# never imported here: an error of a library this process never imported cannot be raised, and the
# layers below the jobs (every Invoke task, every probe) start without kombu and Celery.
_MAPPING: tuple[tuple[tuple[type[Exception] | str, ...], Row], ...] = (
    ((psycopg2.Error,), _postgres_row),
    ((redis.RedisError,), _redis_row),
    (("kombu.exceptions.KombuError",), _broker_row),  # the job broker (Celery's transport)
    ((requests.RequestException, httpx.HTTPError), _transport_row),
    # a socket's own failure (refused, reset, timed out, a name that does not resolve) that a
    # library let through unwrapped: kombu's Redis transport does, on a ping
    ((ConnectionError, TimeoutError, socket.gaierror), _transport_row),
)
# The classes imported here, for callers that list outage errors (restore's rollback).
MAPPED: tuple[type[Exception], ...] = tuple(cls for classes, _ in _MAPPING for cls in classes if isinstance(cls, type))


def _loaded(cls: type[Exception] | str) -> type[Exception] | None:
    if isinstance(cls, type):
        return cls
    module, _, name = cls.rpartition(".")
    return getattr(sys.modules.get(module), name, None)


def _rows() -> Iterator[tuple[tuple[type[Exception], ...], Row]]:
    for classes, row in _MAPPING:
        if loaded := tuple(c for c in map(_loaded, classes) if c is not None):
            yield loaded, row


def mapped() -> tuple[type[Exception], ...]:
    """Every class the table maps now: MAPPED, and each named one whose library is loaded."""
    return tuple(cls for classes, _ in _rows() for cls in classes)


@contextmanager
def map_exceptions(service: str, what: str, *, fix: str | None = None) -> Iterator[None]:
    """The one place a client library's error becomes ours: a psycopg2, redis, kombu (the job
    broker), requests or httpx (chromadb's transport) error, or a bare socket error, raised inside
    leaves as ``ServiceError(service, "what: error", fix)``. ``what`` names the call and the
    address. Our own errors, and anything else (a bug), pass through untouched."""
    try:
        yield
    except mapped() as error:  # evaluated when an error arrives: kombu's class once it is loaded
        for classes, row in _rows():
            if isinstance(error, classes):
                raise row(service, what, error, fix) from error
        raise  # pragma: no cover - mapped() is the rows' classes


# --- Redis ----------------------------------------------------------------------------------
def redis_client(settings: Settings, *, decode_responses: bool = True, host: str | None = None,
                 port: int | None = None, password: str | None = None, reconnect: bool = True) -> redis.Redis:
    """A client that fails in bounded time: a refused or reset connection (a restart) is
    retried on a fresh socket for ~3.5 s; a timeout (a frozen server) is never retried.
    ``reconnect=False``: a probe's client, one attempt (a scrape must not wait out a restart)."""
    secret = password if password is not None else settings.redis_password.get_secret_value()
    retries = deadlines.REDIS_RECONNECT_RETRIES if reconnect else 0
    return redis.Redis(
        host=host or settings.redis_host, port=int(port or settings.redis_port),
        password=secret or None, decode_responses=decode_responses,
        socket_timeout=deadlines.REDIS_SOCKET_TIMEOUT_S,
        socket_connect_timeout=deadlines.CONNECT_TIMEOUT_S,
        retry=Retry(ExponentialBackoff(cap=deadlines.REDIS_RECONNECT_BACKOFF_S[1],
                                       base=deadlines.REDIS_RECONNECT_BACKOFF_S[0]),
                    retries, supported_errors=(redis.ConnectionError,)),
        health_check_interval=deadlines.REDIS_HEALTH_CHECK_INTERVAL_S,
    )


def redis_error(address: str, what: str, error: Exception) -> ServiceError:
    if isinstance(error, redis.TimeoutError):
        problem = f"no answer from Redis at {address} within {deadlines.REDIS_SOCKET_TIMEOUT_S:g} s ({what})"
    elif isinstance(error, redis.ConnectionError):
        problem = f"cannot reach Redis at {address} ({what})"
    else:
        problem = f"{what} failed at {address}"
    return ServiceError("redis", f"{problem}: {error}", fix=fix_for("redis", "REDIS"))


@contextmanager
def redis_guard(address: str, what: str) -> Iterator[None]:
    """Turn a Redis failure inside into ServiceError (the one error contract)."""
    try:
        yield
    except redis.RedisError as error:
        raise redis_error(address, what, error) from error


# --- Chroma ---------------------------------------------------------------------------------
def _chroma_timeout():
    import httpx

    return httpx.Timeout(deadlines.CHROMA_READ_TIMEOUT_S, connect=deadlines.CONNECT_TIMEOUT_S)


def chroma_error(settings: Settings, what: str, error: Exception, *,
                 timeout_s: float = deadlines.CHROMA_READ_TIMEOUT_S) -> ServiceError:
    import httpx

    if isinstance(error, httpx.TimeoutException):
        problem = f"{what}: no answer from {settings.chroma_url} within {timeout_s:g} s (frozen or overloaded)"
    else:
        problem = f"{what} at {settings.chroma_url}: {type(error).__name__}: {error}".rstrip(": ")
    return ServiceError("chroma", problem, fix=fix_for("chroma", "CHROMADB"))


# Chroma's v2 REST paths (the seed's v1 paths no longer exist in Chroma 1.x)
CHROMA_HEARTBEAT = "/api/v2/heartbeat"
CHROMA_VERSION = "/api/v2/version"
CHROMA_PREFLIGHT = "/api/v2/pre-flight-checks"
CHROMA_COLLECTIONS = "/api/v2/tenants/default_tenant/databases/default_database/collections"


def chroma_client(settings: Settings) -> ClientAPI:
    """A chromadb client on CHROMADB_HOST:PORT whose every HTTP call has a deadline.

    A heartbeat with the probe deadline first (a dead server fails in 3 s, not 10),
    then the client, whose sessions carry our deadline from their first call on
    (see ``_give_chroma_sessions_a_deadline``).
    """
    import chromadb
    import httpx
    from chromadb.config import Settings as ChromaSettings

    _give_chroma_sessions_a_deadline()
    try:
        httpx.get(f"{settings.chroma_url}{CHROMA_HEARTBEAT}", timeout=deadlines.PROBE_TIMEOUT_S).raise_for_status()
    except httpx.HTTPError as error:
        raise chroma_error(settings, "heartbeat", error, timeout_s=deadlines.PROBE_TIMEOUT_S) from None
    try:
        return chromadb.HttpClient(host=settings.chromadb_host, port=settings.chromadb_port,
                                   settings=ChromaSettings(anonymized_telemetry=False))
    except (httpx.HTTPError, ValueError) as error:  # ValueError: "Could not connect to a Chroma server"
        raise chroma_error(settings, "cannot reach the Chroma server", error) from None


def _give_chroma_sessions_a_deadline() -> None:
    """chromadb 1.5.9 builds its httpx session with ``timeout=None`` and calls the server from
    its constructor (tenant and database checks); it accepts no other HTTP API class. So its
    HTTP API's ``__init__`` is wrapped, once, to set our deadline on the session it makes.
    The version is pinned and a test checks the sessions carry the deadline."""
    from chromadb.api.fastapi import FastAPI

    if getattr(FastAPI, "_devmatrix_deadline", False):
        return
    original = FastAPI.__init__

    def __init__(self, system) -> None:
        original(self, system)
        self._session.timeout = _chroma_timeout()

    FastAPI.__init__ = __init__  # type: ignore[method-assign]
    FastAPI._devmatrix_deadline = True  # type: ignore[attr-defined]


def chroma_sessions(client: ClientAPI) -> list:
    """The httpx sessions of a chromadb client and of its admin client (it holds two)."""
    owners = (client, getattr(client, "_admin_client", None))
    sessions = [getattr(getattr(owner, "_server", None), "_session", None) for owner in owners]
    return [s for s in sessions if s is not None]


class ChromaHTTP:
    """The few v2 REST calls that backup, restore, cleanup and validate need, on one session.

    Plain HTTP rather than chromadb.HttpClient: that client keeps an admin session it
    never closes, and these callers must leave nothing behind.
    """

    def __init__(self, url: str, *, timeout_s: float = deadlines.CHROMA_BULK_TIMEOUT_S) -> None:
        self.url = url
        self.base = f"{url}{CHROMA_COLLECTIONS}"
        self.timeout_s = timeout_s
        self.http = requests.Session()

    def __enter__(self) -> ChromaHTTP:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def _call(self, method: str, url: str, **kwargs) -> object:
        try:
            response = self.http.request(method, url, timeout=self.timeout_s, **kwargs)
        except requests.RequestException as error:
            raise ServiceError("chroma", f"{method} {url} failed: {error}",
                               fix="`invoke infra.up -s chroma`, and check CHROMADB_* in .env.test") from error
        if not response.ok:
            raise ServiceError("chroma", f"{method} {url} answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def version(self) -> str:
        return str(self._call("GET", f"{self.url}{CHROMA_VERSION}"))

    def max_batch(self) -> int:
        return int(self._call("GET", f"{self.url}{CHROMA_PREFLIGHT}")["max_batch_size"])

    def collections(self) -> list[dict]:
        found: list[dict] = []
        while page := self._call("GET", self.base, params={"limit": 100, "offset": len(found)}):
            found.extend(page)
        return sorted(found, key=lambda c: c["name"])

    def count(self, collection_id: str) -> int:
        return int(self._call("GET", f"{self.base}/{collection_id}/count"))

    def get(self, collection_id: str, offset: int, limit: int) -> dict:
        return self._call("POST", f"{self.base}/{collection_id}/get",
                          json={"offset": offset, "limit": limit, "include": ["embeddings", "documents", "metadatas"]})

    def create(self, name: str, metadata: dict | None, configuration: dict | None) -> str:
        body: dict[str, object] = {"name": name, "metadata": metadata}
        if configuration:
            body["configuration"] = configuration
        return self._call("POST", self.base, json=body)["id"]

    def add(self, collection_id: str, batch: dict) -> None:
        self._call("POST", f"{self.base}/{collection_id}/add", json=batch)

    def query(self, collection_id: str, embeddings: list[list[float]], n_results: int) -> dict:
        return self._call("POST", f"{self.base}/{collection_id}/query",
                          json={"query_embeddings": embeddings, "n_results": n_results})

    def delete(self, name: str) -> None:
        self._call("DELETE", f"{self.base}/{name}")

    def rename(self, collection_id: str, new_name: str) -> None:
        self._call("PUT", f"{self.base}/{collection_id}", json={"new_name": new_name})
