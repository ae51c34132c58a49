"""Health over real HTTP: readiness runs real checks and names what fails; the breaker trips on real failures."""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
READY = "/api/v1/health/ready"
BREAKER = "/api/v1/health/circuit-breaker"


def test_live_and_ready_on_the_running_stack(live_api):
    assert live_api.http.get(live_api.url + "/api/v1/health/live", timeout=5).json()["status"] == "ok"
    response = live_api.http.get(live_api.url + READY, timeout=15)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "ready" and report["failed"] == []
    assert set(report["checks"]) == {"postgres", "redis", "chroma", "llm", "worker"}  # generations run on workers
    assert report["checks"]["postgres"]["detail"].startswith("18")  # the server's version, from a real SELECT


def test_ready_is_503_naming_the_service_that_does_not_answer(start_api, closed_port):
    port = closed_port()
    api = start_api(redis_port=port)
    response = api.http.get(api.url + READY, timeout=15)
    assert response.status_code == 503
    report = response.json()
    # the workers are reached through that Redis (their broker): they cannot be seen either
    assert report["status"] == "not_ready" and report["failed"] == ["redis", "worker"]
    assert f"127.0.0.1:{port}" in report["checks"]["redis"]["detail"]
    assert "fix:" in report["checks"]["redis"]["detail"]
    assert report["checks"]["postgres"]["ok"] and report["checks"]["chroma"]["ok"]


def test_ready_names_every_failed_service(start_api, closed_port):
    api = start_api(postgres_port=closed_port(), redis_port=closed_port(), chromadb_port=closed_port(),
                    llm_port=closed_port())
    response = api.http.get(api.url + READY, timeout=15)
    assert response.status_code == 503
    assert response.json()["failed"] == ["postgres", "redis", "chroma", "llm", "worker"]


@pytest.mark.slow
def test_the_breaker_opens_after_real_failures_fences_generate_and_resets_with_the_token(
        start_api, generation_rows, closed_port):
    # the LLM backend does not answer: every call fails (no retry window: each failure is final)
    api = start_api(llm_port=closed_port(), llm_retry_window_s=0)
    fail_max = api.http.get(api.url + BREAKER, timeout=5).json()["fail_max"]
    workspace = f"api-test-{uuid.uuid4().hex[:8]}"
    for n in range(fail_max):
        response = api.http.post(api.url + "/api/v1/generate", headers=api.auth, timeout=60,
                                 json={"request": f"Write add_{n}_{workspace}(a, b)", "workspace_id": workspace})
        body = response.json()
        # a backend that is down is a 503 naming the service and the fix, never a 200 "failed" result
        assert response.status_code == 503 and body["service"] == "llm", body
        assert "cannot reach the local backend" in body["message"] or "circuit breaker" in body["message"]
        assert "invoke infra.up -s llm" in body["fix"] or "retries by itself" in body["fix"]
    status = api.http.get(api.url + BREAKER, timeout=5).json()
    assert status["state"] == "open" and status["failures"] == fail_max and status["opened_at"]
    scrape = api.http.get(api.url + "/api/v1/metrics/prometheus", timeout=5).text
    assert "llm_circuit_breaker_state 2.0" in scrape.splitlines()

    fenced = api.http.post(api.url + "/api/v1/generate", headers=api.auth, timeout=10,
                           json={"request": "Write sub(a, b)", "workspace_id": workspace})
    assert fenced.status_code == 503 and "circuit breaker" in fenced.json()["message"]
    assert api.http.post(api.url + BREAKER + "/reset", timeout=5).status_code == 401
    reset = api.http.post(api.url + BREAKER + "/reset", headers=api.auth, timeout=5)
    assert reset.status_code == 200 and reset.json()["state"] == "closed" and reset.json()["failures"] == 0
    rows = generation_rows.execute("SELECT COUNT(*) AS n FROM code_generation_logs WHERE workspace_id = %s",
                                   (workspace,))
    assert rows[0]["n"] == fail_max  # every failed attempt was still logged; the fenced one never ran
