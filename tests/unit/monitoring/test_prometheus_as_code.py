"""Prometheus config, alert rules and their unit tests, checked by promtool; the metric-name finder."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import pytest
import yaml

from devmatrix.api import scrape_time
from devmatrix.checks import monitoring
from devmatrix.config import Settings
from devmatrix.monitoring import coverage, prometheus
from devmatrix.monitoring.metrics import CHROMADB_COLLECTION_DOCUMENTS, CHROMADB_UP, REGISTRY
from devmatrix.monitoring.panels import JOB_QUEUE_LENGTH
from devmatrix.results import Status
from devmatrix.stack import _programs, registry

pytestmark = pytest.mark.unit
PROJECT = Path.cwd()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(devmatrix_state_dir=tmp_path / "state", api_port=18000, prometheus_port=19090,
                    postgres_exporter_port=19187, redis_exporter_port=19121, pushgateway_port=19091,
                    flower_port=15555)


def test_promtool_passes_the_config_the_rules_the_rule_tests_and_the_generated_files(settings):
    assert shutil.which("promtool"), "promtool missing: scripts/bootstrap.sh installs the Debian package prometheus"
    results = monitoring.static_checks(settings, PROJECT)
    assert [r.name for r in results] == ["prometheus config", "alert rules", "alert rule tests", "generated files"]
    assert all(r.status is Status.PASS for r in results), [(r.name, r.detail) for r in results]


def test_the_native_config_scrapes_the_configured_ports_and_the_compose_one_the_service_names(settings):
    native_jobs = registry.native_scrape_jobs(settings)
    native = yaml.safe_load(prometheus.write_native_config(settings, native_jobs, PROJECT).read_text())
    jobs = {j["job_name"]: j for j in native["scrape_configs"]}
    assert {name: j["static_configs"][0]["targets"] for name, j in jobs.items()} == {
        "devmatrix-api": ["127.0.0.1:18000"], "postgres": ["127.0.0.1:19187"],
        "redis": ["127.0.0.1:19121"], "prometheus": ["127.0.0.1:19090"], "pushgateway": ["127.0.0.1:19091"],
        "flower": ["127.0.0.1:15555"]}
    assert jobs["devmatrix-api"]["metrics_path"] == "/api/v1/metrics/prometheus"
    assert jobs["pushgateway"]["honor_labels"] is True
    assert native["rule_files"] == [f"{PROJECT / 'infra/prometheus/rules'}/*.yml"]
    compose = yaml.safe_load(monitoring.compose_config())
    assert [j["job_name"] for j in compose["scrape_configs"]] == list(jobs)
    assert compose["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_a_broken_rule_file_fails_the_check_with_promtool_saying_why(settings, tmp_path):
    rules = tmp_path / "infra/prometheus/rules"
    rules.mkdir(parents=True)
    (rules / "bad.yml").write_text("groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: rate(up[5m]\n")
    (tmp_path / "infra/prometheus/tests").mkdir()
    results = {r.name: r for r in monitoring.static_checks(settings, tmp_path)}
    assert results["alert rules"].status is Status.FAIL
    assert "bad.yml" in results["alert rules"].detail and "parse error" in results["alert rules"].detail
    assert results["generated files"].status is Status.FAIL  # no Grafana files in that project


@pytest.mark.parametrize(("expr", "names"), [
    ("sum by (method, route) (rate(http_requests_total[5m]))", {"http_requests_total"}),
    ("histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
     {"http_request_duration_seconds_bucket"}),
    ('sum(rate(http_requests_total{status=~"5.."}[5m])) / (sum(rate(http_requests_total[5m])) > 0) > 0.05',
     {"http_requests_total"}),
    ("llm_budget_spent_usd > 0.8 * llm_budget_usd and llm_budget_usd > 0", {"llm_budget_spent_usd", "llm_budget_usd"}),
    ("up == 0", {"up"}),
])
def test_metric_names_are_found_in_promql(expr, names):
    assert coverage.metric_names(expr) == names


def _flower_declares() -> set[str]:
    """What the pinned Flower's /metrics declares: its metrics, made as Flower makes them (once per
    process, in prometheus_client's default registry, which Flower's /metrics serves)."""
    import prometheus_client
    from flower.events import get_prometheus_metrics

    get_prometheus_metrics()
    return coverage.declared_names(prometheus_client.generate_latest().decode())


def test_every_query_metric_is_declared_by_our_registry_or_an_exporter():
    from prometheus_client import generate_latest

    ours = coverage.declared_names(generate_latest(REGISTRY).decode())
    exporters = {"pg_stat_database_numbackends", "redis_memory_used_bytes", "pg_up", "redis_up", "redis_key_size"}
    flower = _flower_declares()
    assert {"flower_worker_online", "flower_events_total", "flower_task_runtime_seconds_bucket"} <= flower
    assert coverage.missing_metrics(ours | exporters | flower, PROJECT) == {}
    assert coverage.missing_metrics(ours | exporters, PROJECT) == {
        "flower_events_total": ["panel 11 Job Failures", "alert JobFailureRatioHigh"],
        "flower_task_runtime_seconds_bucket": ["panel 10 Job Runtime (p95)"],
        "flower_worker_online": ["panel 9 Workers Online", "alert NoWorkerWhileJobsWait"]}
    missing = coverage.missing_metrics(ours - {"chromadb_collection_documents"} | exporters | flower, PROJECT)
    assert missing == {"chromadb_collection_documents": ["panel 7 RAG Vector Store Size"]}


def test_a_chroma_that_does_not_answer_sets_chromadb_up_to_0_without_failing_the_scrape(closed_port):
    # as after a scrape that found Chroma up, with a collection counted
    CHROMADB_UP.set(1)
    CHROMADB_COLLECTION_DOCUMENTS.labels(collection="devmatrix_code_examples").set(30)
    scrape_time.refresh(Settings(chromadb_port=closed_port, redis_port=1))  # nothing answers: does not raise
    assert REGISTRY.get_sample_value("chromadb_up") == 0
    assert REGISTRY.get_sample_value("chromadb_collection_documents",
                                     {"collection": "devmatrix_code_examples"}) is None  # no stale count


def test_a_scrape_asks_a_redis_that_drops_connections_once_not_through_its_reconnect_window(closed_port):
    """The budget gauge's read is a probe: a Redis restarting (connections reset) costs a scrape one
    attempt, not the ~3.5 s of reconnects a generation's client rides out."""
    accepted = []
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)

    def reset_every_connection() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=reset_every_connection, daemon=True)
    thread.start()
    try:
        scrape_time.refresh(Settings(chromadb_port=closed_port, redis_port=listener.getsockname()[1]))
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    assert len(accepted) == 1


def test_the_job_queue_the_redis_exporter_checks_is_the_one_the_panels_and_alerts_read(settings):
    # the exporter's -check-single-keys db<N>=<queue> exports redis_key_size{db="db<N>", key="<queue>"}
    db, queue = _programs.job_queue_key(settings).split("=")
    assert (db, queue) == ("db1", settings.worker_queue)
    assert f'redis_key_size{{db="{db}"}}' == JOB_QUEUE_LENGTH
    rules = (PROJECT / prometheus.RULES_DIR / "devmatrix.yml").read_text()
    assert f"sum({JOB_QUEUE_LENGTH}) > 0" in rules
    compose = yaml.safe_load((PROJECT / "infra/docker-compose.yml").read_text())
    assert compose["services"]["redis-exporter"]["environment"]["REDIS_EXPORTER_CHECK_SINGLE_KEYS"] == \
        f"{db}=${{WORKER_QUEUE:-{Settings().worker_queue}}}"
