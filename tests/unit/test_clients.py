"""devmatrix.clients: every client ends a call to a dead or frozen server in bounded time,
as one ServiceError naming the service, the address and the fix."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import kombu.exceptions
import psycopg2
import psycopg2.errors
import psycopg2.pool
import pytest
import redis
import requests

from devmatrix import clients, deadlines
from devmatrix.config import Settings
from devmatrix.errors import NotSetUp, ServiceBusy, ServiceError, StatementRejected
from devmatrix.jobs import service
from devmatrix.state.redis import RedisManager

pytestmark = pytest.mark.unit


def test_a_frozen_postgres_ends_the_connect_at_the_io_deadline(silent_port):
    settings = Settings(postgres_port=silent_port)
    start = time.monotonic()
    with clients.postgres_io_timeout(0.5), pytest.raises(ServiceError) as caught:
        clients.postgres_connect(settings)
    # the 0.5 s deadline + 3 s of slack for a busy 2-core machine; libpq alone would wait forever
    assert time.monotonic() - start < 0.5 + 3.0
    assert caught.value.service == "postgres"
    assert f"127.0.0.1:{silent_port}" in caught.value.message and "no answer from the server within 0.5 s" in str(
        caught.value)
    assert "infra.restart -s postgres" in caught.value.fix


def test_a_postgres_restart_is_ridden_out_but_a_refusal_is_not_forever(closed_port):
    settings = Settings(postgres_port=closed_port)
    start = time.monotonic()
    with pytest.raises(ServiceError, match="cannot connect"):
        clients.postgres_connect(settings, window_s=1.0)
    elapsed = time.monotonic() - start
    assert 0.5 <= elapsed < 3.0  # retried while "connection refused", up to the window, then given up


def test_an_exhausted_pool_is_busy_not_an_outage():
    exhausted = psycopg2.pool.PoolError("connection pool exhausted")  # what psycopg2's pool raises
    busy = clients.postgres_error("devmatrix@127.0.0.1:5432/db", "cannot get a connection", exhausted)
    assert isinstance(busy, ServiceBusy) and busy.service == "postgres"
    assert (busy.http_status, busy.exit_code) == (429, 4)
    assert busy.retry_after_s == deadlines.POSTGRES_BUSY_RETRY_AFTER_S >= 1
    assert busy.message.startswith("postgres: busy, not down: cannot get a connection (devmatrix@127.0.0.1")
    assert "do not restart" in busy.fix and "infra.up" not in busy.fix and "infra.restart" not in busy.fix
    assert ServiceError.exit_code == 3 and ServiceError.http_status == 503  # an outage stays an outage


@pytest.mark.parametrize("error", [psycopg2.pool.PoolError("connection pool is closed"),
                                   psycopg2.OperationalError("connection refused")])
def test_other_postgres_failures_stay_outages(error):
    down = clients.postgres_error("devmatrix@127.0.0.1:5432/db", "query failed", error)
    assert type(down) is ServiceError and down.http_status == 503
    assert "infra.up -s postgres" in down.fix


def test_every_postgres_connection_carries_the_deadlines():
    params = clients.postgres_params(Settings())
    assert params["connect_timeout"] == int(deadlines.CONNECT_TIMEOUT_S)
    assert f"statement_timeout={deadlines.POSTGRES_STATEMENT_TIMEOUT_MS}" in params["options"]
    assert params["keepalives"] == 1


def test_a_frozen_redis_is_one_timeout_never_retried(silent_port):
    start = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        RedisManager(settings=Settings(redis_port=silent_port))
    elapsed = time.monotonic() - start
    assert elapsed < 2 * deadlines.REDIS_SOCKET_TIMEOUT_S  # one socket timeout, not one per retry
    assert caught.value.service == "redis"
    assert f"no answer from Redis at 127.0.0.1:{silent_port} within 3 s" in caught.value.message
    assert "infra.restart -s redis" in caught.value.fix


def test_a_dead_redis_names_its_address(closed_port):
    with pytest.raises(ServiceError, match=rf"redis: cannot reach Redis at 127\.0\.0\.1:{closed_port}"):
        RedisManager(settings=Settings(redis_port=closed_port))


def test_a_frozen_chroma_fails_the_heartbeat_within_the_probe_deadline(silent_port):
    import chromadb  # noqa: F401 - imported before the clock starts: the deadline is the probe's, not the import's

    start = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        clients.chroma_client(Settings(chromadb_port=silent_port))
    # without the deadline it waits forever; twice the deadline absorbs a loaded 2-core machine
    assert time.monotonic() - start < 2 * deadlines.PROBE_TIMEOUT_S
    assert caught.value.service == "chroma"
    assert f"no answer from http://127.0.0.1:{silent_port} within 3 s" in caught.value.message


# --- map_exceptions: the one mapping of library errors to ours -----------------------------
@pytest.mark.parametrize("error", [
    redis.ConnectionError("Connection refused"),
    requests.ConnectionError("Connection refused"),
    httpx.ConnectError("Connection refused"),
    psycopg2.OperationalError("Connection refused"),
], ids=["redis", "requests", "httpx", "psycopg2"])
def test_a_library_error_leaves_as_a_service_error_naming_the_call_and_the_fix(error):
    with pytest.raises(ServiceError) as raised, clients.map_exceptions("x", "PING at h:1", fix="do y"):
        raise error
    assert (raised.value.service, raised.value.message, raised.value.fix) == (
        "x", "x: PING at h:1: Connection refused", "do y")
    assert raised.value.__cause__ is error


@pytest.mark.parametrize("error", [
    kombu.exceptions.OperationalError("Error 111 connecting to h:1. Connection refused."),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError("timed out"),
    socket.gaierror(-2, "Name or service not known"),
], ids=["kombu", "refused-socket", "socket-timeout", "unresolved-name"])
def test_a_broker_or_bare_socket_error_is_an_outage_too(error):
    with pytest.raises(ServiceError) as raised, clients.map_exceptions("worker", "ping via h:1", fix="up redis"):
        raise error
    assert (raised.value.service, raised.value.fix) == ("worker", "up redis")
    assert raised.value.__cause__ is error


def test_a_file_error_is_not_an_outage():
    # OSError at large is not a transport failure: a missing file inside the block is a bug to see
    with pytest.raises(FileNotFoundError), clients.map_exceptions("x", "call"):
        raise FileNotFoundError("settings.env")


def test_the_mapping_names_kombu_without_importing_it():
    # clients is imported by every task and probe; Celery's transport loads only with the jobs
    code = "import sys, devmatrix.clients as c; print('kombu' in sys.modules, len(c.mapped()) == len(c.MAPPED))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["False", "True"]
    assert kombu.exceptions.KombuError in clients.mapped()  # loaded here (this module imports it)


def test_a_ping_of_a_broker_that_is_down_is_a_worker_service_error(closed_port):
    with pytest.raises(ServiceError) as raised:
        service.ping(Settings(redis_port=closed_port), timeout_s=0.5)
    assert raised.value.service == "worker"
    assert f"cannot reach the broker redis://127.0.0.1:{closed_port}/" in raised.value.message
    assert raised.value.fix == "`invoke infra.up -s redis`, then `invoke infra.status`"


# --- a statement Postgres refused is not an outage ---------------------------------------------
@pytest.mark.parametrize("error", [
    psycopg2.errors.InvalidTextRepresentation('invalid input syntax for type uuid: "abc"'),
    psycopg2.errors.NumericValueOutOfRange("integer out of range"),
    psycopg2.errors.InvalidDatetimeFormat('invalid input syntax for type timestamp: "yesterday-ish"'),
    psycopg2.errors.UniqueViolation('duplicate key value violates unique constraint "jobs_pkey"'),
    psycopg2.errors.SyntaxError('syntax error at or near "SELEC"'),
    psycopg2.NotSupportedError("not supported"),
], ids=["malformed-uuid", "out-of-range", "bad-date", "duplicate", "syntax", "unsupported"])
def test_a_value_or_statement_postgres_rejected_is_a_bug_never_an_outage(error):
    for raised in (_mapped(error), clients.postgres_error("u@h:1/db", "query failed", error)):
        assert isinstance(raised, StatementRejected) and not isinstance(raised, ServiceError)
        assert (raised.http_status, raised.exit_code) == (500, 1)
        assert str(error) in raised.message and type(error).__name__ in raised.message
        assert "this is a bug" in raised.fix and "do not restart" in raised.fix and "infra." not in raised.fix


def test_a_missing_table_is_a_setup_step_not_an_outage_nor_a_bug():
    raised = _mapped(psycopg2.errors.UndefinedTable('relation "jobs" does not exist'))
    assert isinstance(raised, NotSetUp) and (raised.http_status, raised.exit_code) == (409, 5)
    assert 'relation "jobs" does not exist' in raised.message and "`invoke db`" in raised.fix


@pytest.mark.parametrize("error", [
    psycopg2.OperationalError("could not connect to server: Connection refused"),
    psycopg2.InterfaceError("connection already closed"),
    psycopg2.errors.QueryCanceled("canceling statement due to statement timeout"),
    psycopg2.errors.DiskFull("could not extend file: No space left on device"),
    psycopg2.InternalError("internal error"),
], ids=["refused", "closed", "timeout", "disk-full", "internal"])
def test_a_server_that_cannot_run_the_statement_is_an_outage(error):
    for raised in (_mapped(error), clients.postgres_error("u@h:1/db", "query failed", error)):
        assert type(raised) is ServiceError and raised.http_status == 503 and "infra." in raised.fix


def _mapped(error: Exception) -> Exception:
    with pytest.raises(Exception) as raised, clients.map_exceptions("postgres", "SELECT at h:1"):
        raise error
    assert raised.value.__cause__ is error
    return raised.value


def test_a_full_postgres_pool_is_busy_not_down():
    with pytest.raises(ServiceBusy), clients.map_exceptions("postgres", "SELECT at h:1"):
        raise psycopg2.pool.PoolError("connection pool exhausted")


def test_a_bug_and_our_own_errors_pass_through_untouched():
    with pytest.raises(KeyError), clients.map_exceptions("x", "call"):
        raise KeyError("bug")
    ours = ServiceError("x", "already ours", fix="f")
    with pytest.raises(ServiceError) as raised, clients.map_exceptions("y", "call"):
        raise ours
    assert raised.value is ours


@pytest.mark.parametrize(("message", "restarting"), [
    # what Postgres 18 says in crash recovery after a kill -9 (chaos postgres-kill-during-generate)
    ("FATAL:  the database system is not yet accepting connections\nDETAIL:  Consistent recovery state"
     " has not been yet reached.", True),
    ("FATAL:  the database system is in recovery mode", True),
    ("FATAL:  the database system is starting up", True),
    ('FATAL:  password authentication failed for user "devmatrix"', False),
    ('FATAL:  database "nope" does not exist', False),
])
def test_a_server_in_crash_recovery_is_waited_for_like_a_restart(message, restarting):
    assert clients._restarting(psycopg2.OperationalError(message)) is restarting
