"""What the API says about each request: one log line (its route, path, status and level),
the request id on every line logged while it runs, the error handlers' own lines, and a crash
counted as a 500.

The lines are captured by a logger of the test's own (structlog's LogCapture), put in place of
the modules' loggers: the global structlog configuration, and loggers an earlier test cached,
play no part."""

from __future__ import annotations

import asyncio

import pytest
import structlog
from fastapi.testclient import TestClient
from structlog.testing import LogCapture

from devmatrix.api import create_app, error_handlers, middleware
from devmatrix.errors import DevMatrixError, ServiceBusy, ServiceError
from devmatrix.monitoring.metrics import REGISTRY

pytestmark = pytest.mark.unit


@pytest.fixture
def api_log(monkeypatch) -> list[dict]:
    capture = LogCapture()
    logger = structlog.wrap_logger(None, wrapper_class=structlog.BoundLogger,
                                   processors=[structlog.contextvars.merge_contextvars, capture])
    monkeypatch.setattr(middleware, "log", logger)
    monkeypatch.setattr(error_handlers, "log", logger)
    return capture.entries


@pytest.fixture
def raising(api_settings):
    """The app, with a route that raises what the test puts in ``errors[0]`` and one that returns
    the log context of the request it serves."""
    app = create_app(api_settings)
    errors: list[Exception] = []

    @app.get("/raise/{what}")
    def _raise(what: str) -> None:
        raise errors[0]

    @app.get("/context")
    def _context() -> dict:
        return structlog.contextvars.get_contextvars()

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, errors


def requests_logged(entries: list[dict]) -> list[dict]:
    return [entry for entry in entries if entry["event"] == "http_request"]


def test_each_request_logs_one_line_with_its_route_path_status_and_id(client, auth, api_log):
    response = client.get("/api/v1/generations/abc", headers={**auth, "X-Request-ID": "req-42"})
    assert response.status_code == 422
    [line] = requests_logged(api_log)
    assert line["log_level"] == "info"
    assert (line["method"], line["route"], line["path"], line["status"]) == (
        "GET", "/api/v1/generations/{log_id}", "/api/v1/generations/abc", 422)
    assert line["request_id"] == "req-42" and isinstance(line["duration_ms"], float)


def test_an_unknown_path_is_logged_without_the_path_the_client_sent(client, api_log):
    client.get("/api/v1/unit-pasted-token-1234")
    [line] = requests_logged(api_log)
    assert line["status"] == 404 and line["route"] == "unmatched" and line["path"] is None
    assert "unit-pasted-token-1234" not in repr(api_log)


def test_the_request_id_is_in_the_log_context_while_the_route_runs(raising):
    client, _ = raising
    response = client.get("/context", headers={"X-Request-ID": "ctx-7"})
    assert response.json()["request_id"] == "ctx-7" == response.headers["x-request-id"]


def test_a_crash_is_counted_and_logged_as_a_500_at_error_level(raising, api_log):
    client, errors = raising
    errors.append(KeyError("boom"))
    labels = {"method": "GET", "route": "/raise/{what}", "status": "500"}
    before = REGISTRY.get_sample_value("http_requests_total", labels) or 0
    response = client.get("/raise/1")
    assert response.status_code == 500
    assert REGISTRY.get_sample_value("http_requests_total", labels) == before + 1
    [line] = requests_logged(api_log)
    assert line["status"] == 500 and line["log_level"] == "error"
    assert line["request_id"] == response.headers["x-request-id"]
    crash = next(entry for entry in api_log if entry["event"] == "unhandled_exception")
    assert crash["error_type"] == "KeyError" and crash["log_level"] == "error"


BUSY_TEXT, DOWN_TEXT = "every pooled connection is in use", "no PONG from 127.0.0.1:3"


@pytest.mark.parametrize(("error", "said", "path", "status", "event", "level"), [
    # busy is not down: a 429 logged at info, an outage a 503 logged as a warning
    (ServiceBusy("postgres", BUSY_TEXT, retry_after_s=1), BUSY_TEXT, "/raise/busy", 429, "service_busy", "info"),
    (ServiceError("redis", DOWN_TEXT), DOWN_TEXT, "/raise/down", 503, "service_unavailable", "warning"),
])
def test_a_busy_or_down_service_is_logged_at_its_level_naming_the_service_path_and_error(
        raising, api_log, error, said, path, status, event, level):
    client, errors = raising
    errors.append(error)
    assert client.get(path).status_code == status
    [line] = [entry for entry in api_log if entry["event"] == event]
    assert line["log_level"] == level and line["service"] == error.service and line["path"] == path
    assert said in line["error"]


def test_a_bug_named_by_our_own_error_is_logged_as_an_error_with_its_type(raising, api_log):
    client, errors = raising
    errors.append(DevMatrixError("a statement was rejected"))
    assert client.get("/raise/bug").status_code == 500
    [line] = [entry for entry in api_log if entry["event"] == "internal_error"]
    assert line["log_level"] == "error" and line["error_type"] == "DevMatrixError"
    assert line["error"] == "a statement was rejected" and line["path"] == "/raise/bug"


def test_a_server_that_gives_no_state_still_gets_a_request_id():
    """ASGI makes ``scope["state"]`` optional (only servers with lifespan state send it)."""
    seen: dict = {}

    async def app(scope, receive, send) -> None:
        seen.update(scope["state"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [(b"x-request-id", b"no-state-1")]}
    asyncio.run(middleware.ObservedRequests(app)(scope, receive, send))
    assert seen["request_id"] == "no-state-1"
    assert (b"x-request-id", b"no-state-1") in sent[0]["headers"]
