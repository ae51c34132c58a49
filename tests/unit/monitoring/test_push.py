"""Pushing a batch process's metrics: counts add up across runs, a dead gateway is a warning."""

from __future__ import annotations

import json
import time

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.parser import text_string_to_metric_families

from devmatrix.config import Settings
from devmatrix.deadlines import PUSHGATEWAY_TIMEOUT_S
from devmatrix.monitoring import push

pytestmark = pytest.mark.unit

# What the gateway re-exposes after one earlier push (Go spells bucket bounds 1, not 1.0).
GATEWAY = """\
# TYPE llm_requests counter
llm_requests_total{backend="local",instance="vm",job="devmatrix-cli",model="m",outcome="success"} 2
# TYPE llm_request_duration_seconds histogram
llm_request_duration_seconds_bucket{backend="local",instance="vm",job="devmatrix-cli",model="m",le="1"} 2
llm_request_duration_seconds_bucket{backend="local",instance="vm",job="devmatrix-cli",model="m",le="+Inf"} 2
llm_request_duration_seconds_count{backend="local",instance="vm",job="devmatrix-cli",model="m"} 2
llm_request_duration_seconds_sum{backend="local",instance="vm",job="devmatrix-cli",model="m"} 1.5
"""


def _local() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("llm_requests", "calls", ["backend", "model", "outcome"], registry=registry).labels(
        "local", "m", "success").inc()
    Histogram("llm_request_duration_seconds", "latency", ["backend", "model"], buckets=(1,),
              registry=registry).labels("local", "m").observe(0.5)
    return registry


def test_a_push_adds_this_process_counts_to_what_the_gateway_holds():
    merged = push.merge(_local().collect(), text_string_to_metric_families(GATEWAY))
    values = {(s.name, s.labels.get("le")): s.value for family in merged for s in family.samples}
    assert values[("llm_requests_total", None)] == 3  # 2 earlier + 1 now: the counter only grows
    assert values[("llm_request_duration_seconds_bucket", "1.0")] == 3  # 1 and 1.0 are one bound
    assert values[("llm_request_duration_seconds_count", None)] == 3
    assert values[("llm_request_duration_seconds_sum", None)] == 2.0
    assert not any(s.name.endswith("_created") for family in merged for s in family.samples)
    assert not any({"job", "instance"} & set(s.labels) for family in merged for s in family.samples)


def test_the_grouping_key_is_the_job_and_this_host_never_a_run():
    assert push.grouping_key() == push.grouping_key()
    assert set(push.grouping_key()) == {"instance"}


def _stack(tmp_path, port: int, *, pushgateway: bool | None) -> Settings:
    """Settings whose services.json records the Pushgateway running (True), stopped (False) or never."""
    settings = Settings(pushgateway_port=port, devmatrix_state_dir=tmp_path / "state")
    settings.devmatrix_state_dir.mkdir()
    if pushgateway is not None:
        settings.services_file.write_text(json.dumps(
            {"provider": "native", "services": {"pushgateway": {"running": pushgateway, "port": port}}}))
    return settings


@pytest.mark.parametrize("recorded", [None, False], ids=["never-started", "stopped"])
def test_with_monitoring_off_a_push_is_silent_and_sends_nothing(tmp_path, silent_port, recorded):
    """Monitoring is opt-in: a green run without it must not read like a broken one (issue 22).
    The port here never answers, so trying it would cost the whole deadline."""
    settings = _stack(tmp_path, silent_port, pushgateway=recorded)
    warnings: list[str] = []
    start = time.monotonic()
    assert push.push(settings, push.CLI_JOB, registry=_local(), warn=warnings.append) is False
    assert time.monotonic() - start < PUSHGATEWAY_TIMEOUT_S  # it did not wait for the gateway
    assert warnings == []
    assert push.monitoring_on(settings) is False


@pytest.mark.parametrize("port", ["closed_port", "silent_port"])
def test_a_started_gateway_that_does_not_answer_is_one_warning_within_the_deadline(request, tmp_path, port):
    settings = _stack(tmp_path, request.getfixturevalue(port), pushgateway=True)
    assert push.monitoring_on(settings) is True
    warnings: list[str] = []
    start = time.monotonic()
    assert push.push(settings, push.CLI_JOB, registry=_local(), warn=warnings.append) is False
    assert time.monotonic() - start < 2 * PUSHGATEWAY_TIMEOUT_S + 1
    assert len(warnings) == 1
    assert "metrics not pushed" in warnings[0] and settings.pushgateway_url in warnings[0]
    assert "invoke monitoring.up" in warnings[0]


def test_the_llm_calls_and_success_rate_panels_read_metrics_that_batch_processes_push():
    from devmatrix.monitoring.coverage import metric_names
    from devmatrix.monitoring.panels import PANELS

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    pushed = {family.name + suffix for metric in push.BATCH_METRICS for family in metric.collect()
              for suffix in suffixes[family.type]}
    for panel in PANELS:
        if panel.id in (3, 4):
            assert metric_names(panel.expr) <= pushed, panel.title
