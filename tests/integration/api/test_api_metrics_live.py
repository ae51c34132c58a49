"""A live scrape after a real generation: every metric the dashboard needs, and `promtool check metrics` clean."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from _fixtures.waits import GENERATE_WAIT_S, ONE_GENERATION_TEST_TIMEOUT_S, SCRAPES_WAIT_S
from devmatrix.jobs.service import node_name
from devmatrix.monitoring.panels import PANELS
from devmatrix.monitoring.push import WORKER_JOB

pytestmark = [pytest.mark.integration, pytest.mark.real_services]

# name → whether a generation must move it on the API's scrape (RAG metrics come from RAG, not
# from /generate; the cost of the free local backend stays 0, and the breaker's state is checked
# apart). The LLM and code-generation counters are counted where the generation runs: on a
# worker (issue 24), so the API's scrape defines them and they stay put there; each worker pool
# process pushes them to the Pushgateway after each job, when monitoring is up.
REQUIRED = {
    "http_requests_total": True, "http_request_duration_seconds_bucket": True,
    "llm_requests_total": False, "llm_tokens_total": False, "llm_cost_usd_total": False,
    "llm_circuit_breaker_state": True, "code_generation_attempts_total": False,
    "code_generation_success_total": False, "rag_retrieval_duration_seconds": False,
    "embedding_cache_hits_total": False, "embedding_cache_misses_total": False,
}
# what the generation moves where it runs, which reaches Prometheus through the Pushgateway
WORKER_METRICS = ("llm_requests_total", "llm_tokens_total", "code_generation_attempts_total",
                  "code_generation_success_total")


def totals(scrape: str) -> dict[str, float]:
    """Each sample name's sum over its labels (a gauge that went 0 → 1 counts as a change too)."""
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(scrape):
        for sample in family.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums


@pytest.fixture
def scrapes_around_a_generation(live_api, generation_rows) -> tuple[str, str]:
    """(the scrape before, the scrape after) one generation that the pinned model gets right."""
    scrape = live_api.url + "/api/v1/metrics/prometheus"
    before = live_api.http.get(scrape, timeout=10).text
    workspace = f"api-test-{uuid.uuid4().hex[:8]}"
    response = live_api.http.post(live_api.url + "/api/v1/generate", headers=live_api.auth, timeout=GENERATE_WAIT_S,
                                  json={"request": "Write is_even(n)", "workspace_id": workspace})
    assert response.status_code == 200 and response.json()["success"] is True, response.text
    # a 422, counted under its route template
    live_api.http.get(live_api.url + "/api/v1/generations/abc", headers=live_api.auth, timeout=5)
    return before, live_api.http.get(scrape, timeout=10).text


@pytest.fixture
def scrape_after_generation(scrapes_around_a_generation) -> str:
    return scrapes_around_a_generation[1]


@pytest.mark.timeout(ONE_GENERATION_TEST_TIMEOUT_S)  # its fixture runs a generation
def test_every_required_metric_is_on_the_scrape_and_moved_with_the_generation(scrapes_around_a_generation):
    before, after = scrapes_around_a_generation
    was, now = totals(before), totals(after)
    for name, needs_samples in REQUIRED.items():
        family = name.removesuffix("_total").removesuffix("_bucket")
        assert f"# TYPE {family}" in after, f"{name} is not defined"
        if needs_samples and name != "llm_circuit_breaker_state":
            assert now.get(name, 0.0) > was.get(name, 0.0), f"{name} did not move with the generation"
    assert now["llm_circuit_breaker_state"] == 0  # closed, and exported
    assert now.get("llm_cost_usd_total", 0.0) == was.get("llm_cost_usd_total", 0.0)  # the local backend is free
    assert 'route="/api/v1/generations/{log_id}",status="422"' in after
    assert 'route="/api/v1/generate",status="200"' in after


def _prometheus(settings, expr: str) -> float:
    body = requests.get(f"{settings.prometheus_url}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", body
    return float(body["data"]["result"][0]["value"][1]) if body["data"]["result"] else 0.0


@pytest.mark.timeout(ONE_GENERATION_TEST_TIMEOUT_S + SCRAPES_WAIT_S)
def test_the_generation_metrics_reach_prometheus(monitoring_stack, live_api, scrapes_around_a_generation):
    """The generation ran on the test's own worker: its pool process pushed its counters to the
    Pushgateway after the job (group: job devmatrix-worker, its node, its pool index), Prometheus
    scraped them, and the LLM-calls panel's sum counts them."""
    settings = live_api.settings
    node = node_name(f"test-{settings.worker_queue}", settings.devmatrix_state_dir)  # start_api's worker
    queries = {name: f'sum({name}{{job="{WORKER_JOB}", node="{node}"}})' for name in WORKER_METRICS}
    deadline = time.monotonic() + SCRAPES_WAIT_S  # Prometheus scrapes the gateway every 10 s
    while True:
        seen = {name: _prometheus(settings, expr) for name, expr in queries.items()}
        if all(value > 0 for value in seen.values()):
            break
        assert time.monotonic() < deadline, \
            f"the worker's counters did not reach Prometheus within {SCRAPES_WAIT_S} s: {seen}"
        time.sleep(2)
    assert seen["code_generation_success_total"] == seen["code_generation_attempts_total"] == 1, seen
    llm_calls = next(panel for panel in PANELS if panel.title == "LLM API Calls")
    assert _prometheus(settings, llm_calls.expr) >= seen["llm_requests_total"]  # the panel sums every group


@pytest.mark.timeout(ONE_GENERATION_TEST_TIMEOUT_S)
def test_promtool_check_metrics_is_clean_on_a_live_scrape(scrape_after_generation):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`, listed in infra/apt-packages.txt):"
                    " the exposition format was NOT linted")
    result = subprocess.run([promtool, "check", "metrics"], input=scrape_after_generation, capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        f"promtool check metrics found problems:\n{result.stdout}{result.stderr}")
