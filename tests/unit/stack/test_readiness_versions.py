"""The Prometheus-family probes read a version from the server's own status API, and say
"unknown" (not an error) when a ready server does not report one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devmatrix import readiness
from devmatrix.config import Settings
from devmatrix.errors import ServiceError

pytestmark = pytest.mark.unit

PROMETHEUS_STATUS = {"/api/v1/status/buildinfo": {"status": "success", "data": {"version": "3.5.0"}}}
PUSHGATEWAY_STATUS = {"/api/v1/status": {"status": "success", "data": {"build_information": {"version": "1.11.1"}}}}


@pytest.fixture
def server() -> Iterator:
    """serve(pages, ready=True) → the port of a real HTTP server answering those JSON pages."""
    started: list[ThreadingHTTPServer] = []

    def serve(pages: dict[str, object], *, ready: bool = True) -> int:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/-/ready":
                    code, body = (200, b"ready") if ready else (503, b"not ready")
                elif self.path in pages:
                    code, body = 200, json.dumps(pages[self.path]).encode()
                else:
                    code, body = 404, b"{}"
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return httpd.server_address[1]

    yield serve
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


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
