"""Liveness, the circuit breaker over HTTP, the metrics scrape and the OpenAPI schema."""

from __future__ import annotations

import pytest

from devmatrix import __version__
from devmatrix.llm import breaker as breakers

pytestmark = pytest.mark.unit
BREAKER = "/api/v1/health/circuit-breaker"


def test_live_answers_without_any_service(client):
    response = client.get("/api/v1/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "devmatrix-api", "version": __version__}


@pytest.fixture
def opened_breaker(client, api_settings):
    breaker, _listener = breakers.breaker_for(api_settings.llm_base_url)
    breaker.open()
    yield breaker
    breaker.close()


def scrape_value(client, name: str) -> float:
    lines = [line for line in client.get("/api/v1/metrics/prometheus").text.splitlines() if line.startswith(name + " ")]
    return float(lines[0].split()[1])


def test_an_open_breaker_is_reported_exported_and_reset_with_the_token(client, auth, api_settings, opened_breaker):
    status = client.get(BREAKER).json()
    assert status["endpoint"] == api_settings.llm_base_url
    assert status["state"] == "open" and status["opened_at"] is not None
    assert scrape_value(client, "llm_circuit_breaker_state") == 2
    assert client.post(f"{BREAKER}/reset").status_code == 401
    assert client.get(BREAKER).json()["state"] == "open"
    reset = client.post(f"{BREAKER}/reset", headers=auth)
    assert reset.status_code == 200 and reset.json()["state"] == "closed" and reset.json()["opened_at"] is None
    assert scrape_value(client, "llm_circuit_breaker_state") == 0


def test_generate_is_refused_fast_while_the_breaker_is_open(client, auth, opened_breaker):
    response = client.post("/api/v1/generate", json={"request": "x", "workspace_id": "w"}, headers=auth)
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    body = response.json()
    assert "circuit breaker" in body["message"] and "reset" in body["fix"]


def test_the_scrape_is_prometheus_text_from_the_one_registry(client):
    response = client.get("/api/v1/metrics/prometheus")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    for name in ("http_requests_total", "http_request_duration_seconds", "llm_circuit_breaker_state",
                 "llm_requests_total", "llm_tokens_total", "llm_cost_usd_total", "code_generation_attempts_total",
                 "code_generation_success_total", "rag_retrieval_duration_seconds", "embedding_cache_hits_total",
                 "embedding_cache_misses_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in response.text, name
    openmetrics = client.get("/api/v1/metrics/prometheus", headers={"Accept": "application/openmetrics-text"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")


def test_the_openapi_schema_documents_every_route_and_the_bearer_scheme(client):
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/api/v1/health/live", "/api/v1/health/ready", "/api/v1/health/circuit-breaker",
        "/api/v1/health/circuit-breaker/reset", "/api/v1/metrics/prometheus", "/api/v1/generate",
        "/api/v1/generations/{log_id}", "/api/v1/jobs", "/api/v1/jobs/{job_id}"}
    generate = schema["paths"]["/api/v1/generate"]["post"]
    assert generate["security"] == [{"HTTPBearer": []}]
    assert {"200", "401", "413", "422", "503"} <= set(generate["responses"])
