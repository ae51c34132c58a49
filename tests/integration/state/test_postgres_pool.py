"""PostgresManager's pool on the real server: a full pool makes a caller wait a little, then
say Postgres is busy (ServiceBusy, 429), never that it is down; nothing holds a connection
past its statement."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from devmatrix.deadlines import POSTGRES_POOL_WAIT_S
from devmatrix.errors import ServiceBusy
from devmatrix.state.postgres import PostgresManager

pytestmark = pytest.mark.integration


@pytest.fixture
def pool_of_one(settings):
    manager = PostgresManager(settings=settings, max_connections=1)
    yield manager
    manager.close()


def test_a_full_pool_is_busy_not_down(pool_of_one):
    with pool_of_one.connection(), ThreadPoolExecutor(1) as other:  # the one connection, held
        waiting = other.submit(pool_of_one.execute, "SELECT 1 AS one")
        with pytest.raises(ServiceBusy) as busy:
            waiting.result(timeout=POSTGRES_POOL_WAIT_S + 30)
    error = busy.value
    assert error.service == "postgres" and (error.http_status, error.exit_code) == (429, 4)
    assert "all 1 connections stayed in use" in error.message and "infra." not in error.fix
    assert pool_of_one.execute("SELECT 1 AS one") == [{"one": 1}]  # the server was fine all along


def test_a_caller_waits_for_a_connection_given_back_instead_of_failing(pool_of_one):
    started = threading.Event()

    def wait_for_the_pool() -> list[dict]:
        started.set()
        return pool_of_one.execute("SELECT 2 AS two")

    with ThreadPoolExecutor(1) as other:
        with pool_of_one.connection():
            waiting = other.submit(wait_for_the_pool)
            started.wait(POSTGRES_POOL_WAIT_S)
        # given back well inside POSTGRES_POOL_WAIT_S (psycopg2's own pool would have refused)
        assert waiting.result(timeout=POSTGRES_POOL_WAIT_S + 30) == [{"two": 2}]


def test_statements_give_their_connection_back(settings):
    manager = PostgresManager(settings=settings, max_connections=2)
    try:
        for _ in range(5):
            manager.execute("SELECT 1")
        # both connections are free: taking them at once does not wait or fail
        with manager.connection() as first, manager.connection() as second:
            assert first is not second
    finally:
        manager.close()
