"""Monitoring on the live stack: `invoke monitoring.up`, `.check`, `.snapshot`, `.down` (busy port: test_infra)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import requests

from _fixtures.waits import GENERATE_WAIT_S, ONE_GENERATION_TEST_TIMEOUT_S, SCRAPES_WAIT_S
from devmatrix.checks.monitoring import MONITORING_SERVICES
from devmatrix.state.postgres import PostgresManager

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
WORKSPACE = "monitoring-test"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def generate(settings):
    """Real generations through the running API service (on the workers); their rows and workspace removed after."""
    def one() -> dict:
        response = requests.post(
            f"http://{settings.api_host}:{settings.api_port}/api/v1/generate", timeout=GENERATE_WAIT_S,
            headers={"Authorization": f"Bearer {settings.api_token.get_secret_value()}"},
            json={"request": "Write a function add(a, b) that returns their sum", "workspace_id": WORKSPACE,
                  "git_enabled": False})
        assert response.status_code == 200, response.text
        return response.json()

    yield one
    postgres = PostgresManager(settings=settings)
    postgres.execute("DELETE FROM code_generation_logs WHERE workspace_id = %s", (WORKSPACE,))
    postgres.close()
    shutil.rmtree(settings.workspace_dir / WORKSPACE, ignore_errors=True)


@pytest.fixture
def one_generation(generate):
    return generate()


@pytest.mark.timeout(ONE_GENERATION_TEST_TIMEOUT_S + SCRAPES_WAIT_S)  # a generation, then its scrapes
def test_check_passes_and_snapshot_draws_every_panel_with_data(monitoring_stack, one_generation, invoke_cli,
                                                               tmp_path):
    checked = invoke_cli("monitoring.check", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    results = {r["name"]: r for r in json.loads(checked.stdout)}
    assert {name: r["status"] for name, r in results.items()} == dict.fromkeys(
        ["prometheus config", "alert rules", "alert rule tests", "generated files", "metrics coverage",
         "prometheus targets", "pushed metrics"], "PASS")
    assert set(results["prometheus targets"]["data"]["targets"]) == {"devmatrix-api", "postgres", "redis",
                                                                     "prometheus", "pushgateway", "flower"}

    # rate() needs two scrapes after the generation: poll until every panel has data (scrapes are 10 s apart)
    deadline = time.monotonic() + SCRAPES_WAIT_S
    while True:
        snap = invoke_cli("monitoring.snapshot", "--json", "--out", str(tmp_path), "--minutes", "5")
        assert snap.returncode == 0, snap.stderr
        panels = json.loads(snap.stdout)
        if all(p["data"]["points"] for p in panels) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert len(panels) == 11
    assert [p["name"] for p in panels if not p["data"]["points"]] == []
    for panel in panels:
        assert Path(panel["data"]["file"]).read_bytes()[:8] == PNG_MAGIC


def _query(settings, expr: str) -> list[dict]:
    body = requests.get(f"{settings.prometheus_url}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert body["status"] == "success", body
    return body["data"]["result"]


@pytest.mark.timeout(ONE_GENERATION_TEST_TIMEOUT_S + SCRAPES_WAIT_S)
def test_prometheus_sees_the_workers_through_flower_and_the_queue_through_the_redis_exporter(
        monitoring_stack, generate, settings):
    """A generation runs on a worker (POST /generate submits a job); Flower counts its runtime, and a
    scrape of Flower after the job ended brings that count into Prometheus."""
    runtimes = 'flower_task_runtime_seconds_count{task="devmatrix.jobs.generate"}'
    generate()
    ended = time.time()
    expected = {
        f"sum({runtimes})": lambda v: v >= 1,
        f"max(timestamp({runtimes}))": lambda v: v >= ended,  # a live scrape, not a series from before
        "sum(flower_worker_online)": lambda v: v >= 1,  # how many are up is `invoke validate`'s
        f'redis_key_size{{db="db1", key="{settings.worker_queue}"}}': lambda v: v >= 0,
    }
    deadline = time.monotonic() + SCRAPES_WAIT_S  # a scrape every 10 s
    while True:
        seen = {expr: [float(r["value"][1]) for r in _query(settings, expr)] for expr in expected}
        if all(values and ok(values[0]) for (expr, ok), values in zip(expected.items(), seen.values(), strict=True)):
            break
        assert time.monotonic() < deadline, \
            f"not seen through Prometheus within {SCRAPES_WAIT_S} s of {ended:.0f}: {seen}"
        time.sleep(2)


def test_monitoring_down_stops_only_monitoring(monitoring_stack, invoke_cli, provider):
    stopped = invoke_cli("monitoring.down")
    assert stopped.returncode == 0, stopped.stderr
    assert not any(s.running for s in provider.status(MONITORING_SERVICES))
    assert all(s.healthy for s in provider.status()), "the core stack must keep running"
    assert invoke_cli("monitoring.up").returncode == 0  # the fixture expects it up
