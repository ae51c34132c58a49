"""The API's one Postgres pool: opened on first use against the server its settings name, with
one connection per generation slot plus the reads, so admitted generations never exhaust it."""

from __future__ import annotations

import psycopg2.pool
import pytest

from devmatrix.api import create_app
from devmatrix.api._constants import API_POOL_READ_CONNECTIONS

pytestmark = pytest.mark.unit


def test_the_pool_opens_on_the_configured_server_with_a_connection_per_slot_plus_reads(api_settings, monkeypatch):
    opened: list[tuple[int, dict]] = []

    class Pool:
        """psycopg2's pool, not ours to test: records how it was opened, connects nowhere."""

        def __init__(self, minconn: int, maxconn: int, **params) -> None:
            opened.append((maxconn, params))

        def closeall(self) -> None:
            pass

    monkeypatch.setattr(psycopg2.pool, "ThreadedConnectionPool", Pool)
    settings = api_settings.model_copy(update={"api_max_concurrent_generations": 3, "postgres_db": "unit_db"})
    resources = create_app(settings).state.resources
    assert opened == []  # nothing connects until a route needs it
    assert resources.postgres() is resources.postgres()
    [(maxconn, params)] = opened
    assert maxconn == 3 + API_POOL_READ_CONNECTIONS
    assert (params["host"], params["port"], params["dbname"]) == (settings.postgres_host, 2, "unit_db")
    resources.close()
