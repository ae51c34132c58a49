"""What each HTTP readiness probe makes of a server that answers: a healthy answer is ready (and
gives the version), an answer that is not the service's healthy one is a ServiceError naming the
service, what it said and the fix. The servers are real local HTTP servers (`http_server`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from devmatrix import readiness
from devmatrix.config import Settings
from devmatrix.errors import ServiceError

pytestmark = pytest.mark.unit

HEARTBEAT = {"nanosecond heartbeat": 1765000000000000000}


@pytest.fixture
def pages(http_server) -> Callable[[dict[str, tuple[int, bytes | object]]], int]:
    """serve({path: (status, body)}) → a port; a body that is not bytes is sent as JSON; any
    other path is a 404."""
    def serve(answers: dict[str, tuple[int, bytes | object]]) -> int:
        def answer(path: str) -> tuple[int, bytes]:
            status, body = answers.get(path.split("?")[0], (404, b"not found"))
            return status, body if isinstance(body, bytes) else json.dumps(body).encode()
        return http_server(answer)
    return serve


def _fails(probe, settings: Settings, service: str) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        probe(settings)
    assert raised.value.service == service
    return raised.value


# --- chroma -------------------------------------------------------------------------------------
def test_chroma_is_ready_on_its_heartbeat_and_reports_its_version(pages):
    port = pages({"/api/v2/heartbeat": (200, HEARTBEAT), "/api/v2/version": (200, "1.5.9")})
    assert readiness.chroma(Settings(chromadb_port=port)) == "1.5.9"


@pytest.mark.parametrize("version_page", [(404, b"{}"), (200, b"<html>not json</html>")], ids=["404", "not-json"])
def test_chroma_with_a_heartbeat_but_no_readable_version_is_ready_with_version_unknown(pages, version_page):
    port = pages({"/api/v2/heartbeat": (200, HEARTBEAT), "/api/v2/version": version_page})
    assert readiness.chroma(Settings(chromadb_port=port)) == "unknown"


def test_a_heartbeat_without_chromas_key_is_a_chroma_error_that_shows_the_payload(pages):
    port = pages({"/api/v2/heartbeat": (200, {"beat": 1}), "/api/v2/version": (200, "1.5.9")})
    error = _fails(readiness.chroma, Settings(chromadb_port=port), "chroma")
    assert "unexpected heartbeat payload" in error.message and "'beat'" in error.message


def test_a_heartbeat_that_is_not_json_is_a_chroma_error_naming_the_url(pages):
    port = pages({"/api/v2/heartbeat": (200, b"<html>a proxy page</html>")})
    error = _fails(readiness.chroma, Settings(chromadb_port=port), "chroma")
    assert f"no healthy answer from http://127.0.0.1:{port}/api/v2/heartbeat" in error.message


def test_a_heartbeat_answered_with_500_is_a_chroma_error(pages):
    port = pages({"/api/v2/heartbeat": (500, HEARTBEAT)})
    _fails(readiness.chroma, Settings(chromadb_port=port), "chroma")


# --- llm (local server) and api: {"status": "ok"} ---------------------------------------------
@pytest.mark.parametrize(("probe", "setting", "path", "healthy", "version"), [
    (readiness.llm, "llm_port", "/health", {"status": "ok"}, "llama.cpp"),
    (readiness.api, "api_port", "/api/v1/health/live", {"status": "ok", "version": "0.3.0"}, "0.3.0"),
    (readiness.api, "api_port", "/api/v1/health/live", {"status": "ok"}, "unknown"),
], ids=["llm", "api", "api-no-version"])
def test_a_status_ok_is_ready(pages, probe, setting, path, healthy, version):
    assert probe(Settings(**{setting: pages({path: (200, healthy)})})) == version


@pytest.mark.parametrize("body", [{"status": "loading model"}, {"state": "ok"}, {}],
                         ids=["loading", "other-key", "empty"])
@pytest.mark.parametrize(("probe", "setting", "path"), [
    (readiness.llm, "llm_port", "/health"),
    (readiness.api, "api_port", "/api/v1/health/live"),
], ids=["llm", "api"])
def test_anything_but_status_ok_is_an_error_naming_the_service_what_it_said_and_its_logs(pages, probe, setting, path,
                                                                                      body):
    error = _fails(probe, Settings(**{setting: pages({path: (200, body)})}), probe.__name__)
    assert f"{path} says {body!r}" in error.message
    assert error.fix == f"`invoke infra.logs {probe.__name__}`"


def test_grafana_is_ready_when_its_database_is_ok_and_not_otherwise(pages):
    port = pages({"/api/health": (200, {"database": "ok", "version": "11.6.0"})})
    assert readiness.grafana(Settings(grafana_port=port)) == "11.6.0"
    port = pages({"/api/health": (200, {"database": "failing", "version": "11.6.0"})})
    error = _fails(readiness.grafana, Settings(grafana_port=port), "grafana")
    assert "'failing'" in error.message and error.fix == "`invoke infra.logs grafana`"


# --- the exporters: serving /metrics with their own `up` metric -----------------------------
EXPORTERS = [(readiness.postgres_exporter, "postgres_exporter_port", "postgres-exporter", "pg_up"),
             (readiness.redis_exporter, "redis_exporter_port", "redis-exporter", "redis_up")]


@pytest.mark.parametrize(("probe", "setting", "service", "metric"), EXPORTERS, ids=["postgres", "redis"])
def test_an_exporter_that_exports_its_up_metric_is_ready_even_when_it_is_0(pages, probe, setting, service, metric):
    # readiness is serving /metrics; whether the exporter reaches its store is the metric's value
    text = f"# HELP {metric} whether the last scrape worked\n# TYPE {metric} gauge\n{metric} 0\n".encode()
    assert probe(Settings(**{setting: pages({"/metrics": (200, text)})})) == "exporter"
    first_line = f"{metric} 1\nother_metric 2\n".encode()
    assert probe(Settings(**{setting: pages({"/metrics": (200, first_line)})})) == "exporter"


@pytest.mark.parametrize(("probe", "setting", "service", "metric"), EXPORTERS, ids=["postgres", "redis"])
@pytest.mark.parametrize("text", [b"process_cpu_seconds_total 1.5\n", b"x{metric} 1\n", b"{metric}_total 1\n"],
                         ids=["absent", "as-a-suffix", "as-a-prefix"])
def test_an_exporter_without_its_own_up_metric_is_an_error_naming_it(pages, probe, setting, service, metric, text):
    port = pages({"/metrics": (200, text.replace(b"{metric}", metric.encode()))})
    error = _fails(probe, Settings(**{setting: port}), service)
    assert error.message == f"{service}: http://127.0.0.1:{port}/metrics does not export {metric}"


@pytest.mark.parametrize(("probe", "setting", "service", "metric"), EXPORTERS, ids=["postgres", "redis"])
def test_an_exporter_answering_an_error_is_an_error_with_the_monitoring_fix(pages, probe, setting, service, metric):
    port = pages({"/metrics": (503, f"{metric} 1\n".encode())})
    error = _fails(probe, Settings(**{setting: port}), service)
    assert f"no metrics at http://127.0.0.1:{port}/metrics" in error.message
    assert error.fix == f"`invoke monitoring.up`, then `invoke infra.logs {service}`"


# --- flower --------------------------------------------------------------------------------------
def test_flower_is_ready_when_it_says_ok_and_serves_the_worker_metric(pages):
    port = pages({"/healthcheck": (200, b"OK"), "/metrics": (200, b"flower_worker_online{worker=\"w\"} 1\n")})
    assert readiness.flower(Settings(flower_port=port)) == "flower"


@pytest.mark.parametrize(("health", "metrics"), [(b"not OK", b"flower_worker_online 1\n"),
                                                 (b"OK", b"process_cpu_seconds_total 1\n")],
                         ids=["health-not-ok", "no-worker-metric"])
def test_a_server_on_flowers_port_that_is_not_flower_is_an_error(pages, health, metrics):
    port = pages({"/healthcheck": (200, health), "/metrics": (200, metrics)})
    error = _fails(readiness.flower, Settings(flower_port=port), "flower")
    assert "answers, but not as Flower" in error.message and error.fix == "`invoke infra.logs flower`"


# --- the paid backend: the free model list with the key ----------------------------------------
def test_the_paid_backend_is_ready_when_the_model_list_answers(pages):
    port = pages({"/v1/models": (200, {"data": []})})
    settings = Settings(llm_backend="anthropic", anthropic_api_key="sk-test", anthropic_base_url=f"http://127.0.0.1:{port}")
    assert readiness.llm_backend(settings) == f"anthropic at http://127.0.0.1:{port}"


def test_a_refused_key_is_an_llm_error_naming_the_status_and_the_key_setting(pages):
    port = pages({"/v1/models": (401, {"error": "invalid x-api-key"})})
    settings = Settings(llm_backend="anthropic", anthropic_api_key="sk-wrong", anthropic_base_url=f"http://127.0.0.1:{port}")
    error = _fails(readiness.llm_backend, settings, "llm")
    assert "/v1/models answered 401" in error.message and "ANTHROPIC_API_KEY" in error.fix


def test_the_local_backend_is_checked_on_the_local_servers_health(pages):
    port = pages({"/health": (200, {"status": "ok"})})
    assert readiness.llm_backend(Settings(llm_backend="local", llm_port=port)) == \
        f"local llama.cpp at http://127.0.0.1:{port}"


# --- redis: its own fix, not the generic one ------------------------------------------------------
def test_a_redis_that_does_not_answer_names_its_address_and_how_to_start_it(closed_port):
    error = _fails(readiness.redis_ping, Settings(redis_port=closed_port), "redis")
    assert f"no PONG from 127.0.0.1:{closed_port}" in error.message
    assert error.fix == "`invoke infra.up -s redis`, then `invoke infra.logs redis`"


def test_a_stopped_redis_is_said_at_once_not_after_reconnecting(closed_port):
    # a probe makes one attempt (validate, /ready, infra.status): the reconnecting client retried a
    # refused connection for 4.4 s first. 2 s: a refused local connect takes microseconds, plus a busy machine
    started = time.monotonic()
    _fails(readiness.redis_ping, Settings(redis_port=closed_port), "redis")
    assert time.monotonic() - started < 2.0
