"""A live scrape after a real generation: every metric the dashboard needs, and `promtool check metrics` clean."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.real_services]

# name → whether a generation must have given it samples (RAG metrics come from RAG, not from /generate)
REQUIRED = {
    "http_requests_total": True, "http_request_duration_seconds_bucket": True,
    "llm_requests_total": True, "llm_tokens_total": True, "llm_cost_usd_total": True,
    "llm_circuit_breaker_state": True, "code_generation_attempts_total": True,
    "code_generation_success_total": True, "rag_retrieval_duration_seconds": False,
    "embedding_cache_hits_total": False, "embedding_cache_misses_total": False,
}


@pytest.fixture
def scrape_after_generation(live_api, generation_rows) -> str:
    workspace = f"api-test-{uuid.uuid4().hex[:8]}"
    response = live_api.http.post(live_api.url + "/api/v1/generate", headers=live_api.auth, timeout=110,
                                  json={"request": f"Write is_even(n)  # {workspace}", "workspace_id": workspace})
    assert response.status_code == 200, response.text
    # a 422, counted under its route template
    live_api.http.get(live_api.url + "/api/v1/generations/abc", headers=live_api.auth, timeout=5)
    return live_api.http.get(live_api.url + "/api/v1/metrics/prometheus", timeout=10).text


def test_every_required_metric_is_on_the_scrape(scrape_after_generation):
    samples = {line.split("{")[0].split(" ")[0] for line in scrape_after_generation.splitlines()
               if line and not line.startswith("#")}
    for name, needs_samples in REQUIRED.items():
        family = name.removesuffix("_total").removesuffix("_bucket")
        assert f"# TYPE {family}" in scrape_after_generation, f"{name} is not defined"
        if needs_samples:
            assert name in samples, f"{name} has no samples after a generation"
    assert 'route="/api/v1/generations/{log_id}",status="422"' in scrape_after_generation
    assert 'route="/api/v1/generate",status="200"' in scrape_after_generation


def test_promtool_check_metrics_is_clean_on_a_live_scrape(scrape_after_generation):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`, listed in infra/apt-packages.txt):"
                    " the exposition format was NOT linted")
    result = subprocess.run([promtool, "check", "metrics"], input=scrape_after_generation, capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        f"promtool check metrics found problems:\n{result.stdout}{result.stderr}")
