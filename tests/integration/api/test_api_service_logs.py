"""The running native `api` service: one JSON line per request in its log, and never the token."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from devmatrix.config import env_file_path
from devmatrix.ops.services import get_provider

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
LOG_WAIT_S = 5.0


@pytest.fixture
def api_log(settings):
    provider = get_provider(settings, env_file=env_file_path(), echo=lambda _line: None)
    if provider.name != "native":
        pytest.skip(f"the service log file is the native provider's; this stack runs under {provider.name}")
    (state,) = provider.status(("api",))
    assert state.healthy, f"the api service is not running ({state.detail}): `invoke infra.up -s api`"
    return provider.catalog["api"].program.log_file, state.url


def test_the_service_logs_each_request_by_id_and_never_the_token(settings, api_log):
    log_file, url = api_log
    token = settings.api_token.get_secret_value()
    start = log_file.stat().st_size
    request_ids = [f"logtest-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    with requests.Session() as http:
        http.post(f"{url}/api/v1/health/circuit-breaker/reset", timeout=10,
                  headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_ids[0]})
        http.get(f"{url}/api/v1/health/live?token={token}", timeout=10, headers={"X-Request-ID": request_ids[1]})
        http.post(f"{url}/api/v1/generate", json={"request": token, "workspace_id": "x"}, timeout=10,
                  headers={"Authorization": f"Bearer {token}x", "X-Request-ID": request_ids[2]})
    deadline = time.monotonic() + LOG_WAIT_S
    while True:
        with log_file.open("rb") as handle:
            handle.seek(start)
            new = handle.read().decode("utf-8", errors="replace")
        if all(rid in new for rid in request_ids) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    lines = [json.loads(line) for line in new.splitlines() if line.startswith("{")]
    requests_logged = {line["request_id"]: line for line in lines if line.get("event") == "http_request"}
    assert set(request_ids) <= set(requests_logged), f"missing request lines in {log_file}"
    assert [requests_logged[rid]["status"] for rid in request_ids] == [200, 200, 401]
    assert token not in new
