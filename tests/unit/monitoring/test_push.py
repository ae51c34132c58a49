"""Pushing a batch process's metrics: counts add up across runs, a dead gateway is a warning."""

from __future__ import annotations

import json
import logging
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.parser import text_string_to_metric_families

from _fixtures.http_server import http_server
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
    # a worker's pool process: a group per node and pool index (reused), never per job or pid
    assert set(push.worker_grouping_key("worker-0@host.abc", 1)) == {"instance", "node", "pool_process"}


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


class _Gateway(BaseHTTPRequestHandler):
    """A Pushgateway double: GET /metrics answers ``held``; each PUT or POST is recorded."""

    held = ""
    calls: ClassVar[list[tuple[str, str, str]]] = []

    def do_GET(self) -> None:
        type(self).calls.append(("GET", self.path, ""))
        body = type(self).held.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).calls.append((self.command, self.path, self.rfile.read(length).decode()))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_POST = _record

    def log_message(self, *_: object) -> None:
        pass


def _worker_group(node: str, index: int) -> str:
    return f'instance="{socket.gethostname()}",job="devmatrix-worker",node="{node}",pool_process="{index}"'


def test_a_worker_process_owns_its_group_and_its_counters_only_grow(tmp_path):
    """Each pool process replaces its own group (node, pool index) with what the group held when
    it first pushed (a previous process of that node and index) plus its own counts; another
    process's group is never added in, nor read again after the first push."""
    node = "worker-0@host.abc"
    _Gateway.calls = []
    _Gateway.held = (
        "# TYPE llm_requests_total counter\n"  # the gateway's (Go's) spelling
        f'llm_requests_total{{backend="local",{_worker_group(node, 0)},model="m",outcome="success"}} 2\n'
        f'llm_requests_total{{backend="local",{_worker_group(node, 1)},model="m",outcome="success"}} 100\n'
        f'llm_requests_total{{backend="local",instance="{socket.gethostname()}",job="devmatrix-cli",model="m",'
        'outcome="success"} 50\n')
    with http_server(_Gateway) as port:
        settings = _stack(tmp_path, port, pushgateway=True)
        key = push.worker_grouping_key(node, 0)
        assert key == {"instance": socket.gethostname(), "node": node, "pool_process": "0"}
        pusher = push.GroupPusher(settings, push.WORKER_JOB, key)
        registry = CollectorRegistry()
        calls = Counter("llm_requests", "calls", ["backend", "model", "outcome"], registry=registry)
        calls.labels("local", "m", "success").inc()
        assert pusher.push(registry=registry) is True
        calls.labels("local", "m", "success").inc()
        assert pusher.push(registry=registry) is True
    gets = [c for c in _Gateway.calls if c[0] == "GET"]
    pushes = [c for c in _Gateway.calls if c[0] != "GET"]
    assert len(gets) == 1  # the group's earlier values, read once
    assert [method for method, _, _ in pushes] == ["PUT", "PUT"]  # the group replaced, never added to
    assert all(path.startswith("/metrics/job/devmatrix-worker/") and "/pool_process/0" in path
               and "/node/worker-0%40host.abc" in path for _, path, _ in pushes)
    sent = [{s.name: s.value for f in text_string_to_metric_families(body) for s in f.samples}
            for _, _, body in pushes]
    assert [values["llm_requests_total"] for values in sent] == [3, 4]  # 2 before + 1, then + 2


def test_with_monitoring_off_a_worker_pushes_nothing_and_says_nothing(tmp_path, silent_port, caplog):
    settings = _stack(tmp_path, silent_port, pushgateway=False)
    pusher = push.GroupPusher(settings, push.WORKER_JOB, push.worker_grouping_key("worker-0@h", 0))
    start = time.monotonic()
    with caplog.at_level(logging.DEBUG):
        assert pusher.push(registry=_local()) is False
    assert time.monotonic() - start < PUSHGATEWAY_TIMEOUT_S
    assert caplog.records == []


def test_a_worker_whose_gateway_is_down_logs_one_warning_and_tries_again_next_job(tmp_path, closed_port, capsys):
    settings = _stack(tmp_path, closed_port, pushgateway=True)
    pusher = push.GroupPusher(settings, push.WORKER_JOB, push.worker_grouping_key("worker-0@h", 0))
    assert pusher.push(registry=_local()) is False
    assert pusher.push(registry=_local()) is False  # still nothing cached from a gateway that never answered
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if "metrics_push_failed" in line]
    assert len(lines) == 2 and "invoke monitoring.up" in lines[0]
