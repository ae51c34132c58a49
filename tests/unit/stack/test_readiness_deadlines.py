"""Readiness ends: a probe of a server that accepts the connection and never answers fails within
its probe deadline, and a start that never becomes ready fails at SERVICE_START_TIMEOUT_S.

The frozen server is the unit tier's `silent_port` (the kernel accepts, nothing answers); the
dead one is `closed_port`. Both are real sockets: the probes are the real ones."""

from __future__ import annotations

import time

import pytest

from devmatrix import readiness
from devmatrix.config import Settings
from devmatrix.deadlines import CONNECT_TIMEOUT_S, REDIS_SOCKET_TIMEOUT_S
from devmatrix.errors import ServiceError, ServiceNotReady
from devmatrix.stack.native import NativeProvider

pytestmark = pytest.mark.unit

SLACK_S = 3.0  # a busy shared machine; a probe without a deadline would wait for ever (the test's timeout)
FAST_PROBE_S = 0.5  # the probes' deadline in these tests (time is the fake here): 8 probes, not 8 x 3 s


@pytest.fixture
def fast_probes(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(readiness, "PROBE_TIMEOUT_S", FAST_PROBE_S)
    return FAST_PROBE_S

# each HTTP probe and the setting that points it at a port
HTTP_PROBES = [
    (readiness.chroma, "chromadb_port"), (readiness.llm, "llm_port"), (readiness.api, "api_port"),
    (readiness.prometheus, "prometheus_port"), (readiness.postgres_exporter, "postgres_exporter_port"),
    (readiness.redis_exporter, "redis_exporter_port"), (readiness.pushgateway, "pushgateway_port"),
    (readiness.grafana, "grafana_port"),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("probe", "setting"), HTTP_PROBES, ids=[p.__name__ for p, _ in HTTP_PROBES])
def test_an_http_probe_of_a_frozen_server_fails_within_the_probe_deadline(silent_port, fast_probes, probe, setting):
    settings = Settings(**{setting: silent_port})
    start = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        probe(settings)
    assert time.monotonic() - start < fast_probes + SLACK_S
    assert str(silent_port) in caught.value.message  # the address that did not answer
    assert caught.value.fix  # and what to do


@pytest.mark.timeout(30)
def test_a_redis_probe_of_a_frozen_server_fails_within_the_probe_deadline(silent_port):
    start = time.monotonic()
    with pytest.raises(ServiceError, match=f"no PONG from 127.0.0.1:{silent_port}"):
        readiness.redis_ping(Settings(redis_port=silent_port))
    assert time.monotonic() - start < CONNECT_TIMEOUT_S + REDIS_SOCKET_TIMEOUT_S + SLACK_S  # a timeout: never retried


@pytest.mark.timeout(30)
def test_a_postgres_probe_of_a_frozen_server_fails_within_the_probe_deadline(silent_port, fast_probes):
    start = time.monotonic()
    with pytest.raises(ServiceError, match=f"no answer to SELECT at 127.0.0.1:{silent_port}"):
        readiness.postgres(Settings(postgres_port=silent_port))
    assert time.monotonic() - start < fast_probes + SLACK_S


@pytest.mark.timeout(30)
def test_a_pgvector_probe_of_a_closed_port_names_the_database_and_both_fixes(closed_port):
    """The connect's psycopg2 error goes through the one mapping (clients.map_exceptions) at once:
    a probe never waits out a restart."""
    start = time.monotonic()
    with pytest.raises(ServiceError, match=r"^postgres: cannot open database 'devmatrix': .*refused") as caught:
        readiness.pgvector(Settings(postgres_port=closed_port, postgres_db="devmatrix"))
    assert time.monotonic() - start < CONNECT_TIMEOUT_S  # one attempt, no reconnect window
    assert "invoke infra.logs postgres" in caught.value.fix and "invoke db" in caught.value.fix
    assert type(caught.value.__cause__).__module__.startswith("psycopg2")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("port", ["closed_port", "silent_port"])
def test_a_start_that_never_becomes_ready_fails_at_the_start_timeout(tmp_path, request, fast_probes, port):
    timeout_s = 1.0
    port = request.getfixturevalue(port)
    settings = Settings(devmatrix_state_dir=tmp_path / "state", llm_port=port, service_start_timeout_s=timeout_s,
                        llm_backend="local")
    stack = NativeProvider(settings, env_file=tmp_path / ".env.test", echo=lambda _: None)
    start = time.monotonic()
    with pytest.raises(ServiceNotReady) as caught:
        stack._wait_ready(stack.catalog["llm"])  # no supervisord: only the probe can say ready
    waited = time.monotonic() - start
    assert timeout_s <= waited < timeout_s + fast_probes + SLACK_S  # it waited, then it ended
    assert "not ready within 1 s" in caught.value.message and f"127.0.0.1:{port}" in caught.value.message
