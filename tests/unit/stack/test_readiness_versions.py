"""The Prometheus-family probes read a version from the server's own status API, and say
"unknown" (not an error) when a ready server does not report one."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from devmatrix import readiness
from devmatrix.config import Settings
from devmatrix.errors import ServiceError

pytestmark = pytest.mark.unit

PROMETHEUS_STATUS = {"/api/v1/status/buildinfo": {"status": "success", "data": {"version": "3.5.0"}}}
PUSHGATEWAY_STATUS = {"/api/v1/status": {"status": "success", "data": {"build_information": {"version": "1.11.1"}}}}


@pytest.fixture
def server(http_server) -> Callable[..., int]:
    """serve(pages, ready=True) → the port of a real HTTP server answering those JSON pages."""
    def serve(pages: dict[str, object], *, ready: bool = True) -> int:
        def answer(path: str) -> tuple[int, bytes]:
            if path == "/-/ready":
                return (200, b"ready") if ready else (503, b"not ready")
            return (200, json.dumps(pages[path]).encode()) if path in pages else (404, b"{}")
        return http_server(answer)
    return serve


@pytest.mark.parametrize(("probe", "setting", "pages", "version"), [
    (readiness.prometheus, "prometheus_port", PROMETHEUS_STATUS, "3.5.0"),
    (readiness.pushgateway, "pushgateway_port", PUSHGATEWAY_STATUS, "1.11.1"),
    (readiness.prometheus, "prometheus_port", {"/api/v1/status/buildinfo": {"data": {}}}, "unknown"),
    (readiness.pushgateway, "pushgateway_port", {"/api/v1/status": {"data": []}}, "unknown"),
], ids=["prometheus", "pushgateway", "prometheus-no-version", "pushgateway-odd-shape"])
def test_the_version_comes_from_the_status_api(server, probe, setting, pages, version):
    settings = Settings(**{setting: server(pages)})
    assert probe(settings) == version


@pytest.mark.parametrize(("probe", "setting"), [(readiness.prometheus, "prometheus_port"),
                                                (readiness.pushgateway, "pushgateway_port")])
def test_a_server_not_ready_is_a_service_error_naming_it_and_the_fix(server, probe, setting):
    settings = Settings(**{setting: server({}, ready=False)})
    with pytest.raises(ServiceError) as raised:
        probe(settings)
    assert raised.value.service == probe.__name__
    assert "not ready at" in str(raised.value) and "invoke monitoring.up" in str(raised.value)
