"""The running `api` service: one JSON line per request in its log, and never the token.

The log is read through the provider (the native log file, or `docker compose logs`), so
the test runs under either; only the external provider, which runs no api of ours, skips."""

from __future__ import annotations

import contextlib
import json
import time
import uuid

import pytest
import requests

from devmatrix.config import env_file_path
from devmatrix.stack import get_provider

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
LOG_WAIT_S = 5.0


LOG_LINES = 500  # the tail read back: far more than the requests of one test


@pytest.fixture
def api_service(settings):
    provider = get_provider(settings, env_file=env_file_path(), echo=lambda _line: None)
    if provider.name == "external":
        pytest.skip("NOT RUN: the external provider runs no api service of ours, so there is no log to read")
    (state,) = provider.status(("api",))
    assert state.healthy, f"the api service is not running ({state.detail}): `invoke infra.up -s api`"
    return provider, state.url


def json_lines(log: str) -> list[dict]:
    """The JSON objects of a log (compose prefixes each line with the container's name)."""
    found = []
    for line in log.splitlines():
        with contextlib.suppress(ValueError):  # not a JSON line (a traceback, a startup banner)
            found.append(json.loads(line[line.index("{"):]))
    return found


def test_the_service_logs_each_request_by_id_and_never_the_token(settings, api_service):
    provider, url = api_service
    token = settings.api_token.get_secret_value()
    request_ids = [f"logtest-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    with requests.Session() as http:
        http.post(f"{url}/api/v1/health/circuit-breaker/reset", timeout=10,
                  headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_ids[0]})
        http.get(f"{url}/api/v1/health/live?token={token}", timeout=10, headers={"X-Request-ID": request_ids[1]})
        http.post(f"{url}/api/v1/generate", json={"request": token, "workspace_id": "x"}, timeout=10,
                  headers={"Authorization": f"Bearer {token}x", "X-Request-ID": request_ids[2]})
    deadline = time.monotonic() + LOG_WAIT_S
    while True:
        log = provider.logs("api", LOG_LINES)
        if all(rid in log for rid in request_ids) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    requests_logged = {line["request_id"]: line for line in json_lines(log)
                       if line.get("event") == "http_request" and line.get("request_id") in request_ids}
    assert set(request_ids) <= set(requests_logged), f"missing request lines in the api log:\n{log[-2000:]}"
    assert [requests_logged[rid]["status"] for rid in request_ids] == [200, 200, 401]
    assert token not in log
