"""The API across a dependency's restart and outage, on the real stack.

A pooled Postgres connection that died with its server is replaced before the
next statement, so a generation after a restart is logged (it used to answer 200
with ``id: null``); a store that is down is a 503 naming it and the fix.
"""

from __future__ import annotations

import uuid

import pytest

from _fixtures.waits import GENERATE_WAIT_S, generations_test_timeout
from devmatrix.config import env_file_path
from devmatrix.stack import get_provider

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
GENERATE = "/api/v1/generate"


@pytest.mark.timeout(generations_test_timeout(2))  # two generations, a Postgres restart between
def test_a_generation_after_a_postgres_restart_is_logged(live_api, generation_rows, settings):
    workspace = f"api-test-{uuid.uuid4().hex[:8]}"
    body = {"request": "Write a Python function add(a, b) that returns a + b", "workspace_id": workspace,
            "git_enabled": False}
    first = live_api.http.post(live_api.url + GENERATE, headers=live_api.auth, json=body,
                               timeout=GENERATE_WAIT_S).json()
    assert isinstance(first["log_id"], int), first  # the pool now holds a connection

    get_provider(settings, env_file=env_file_path(), echo=lambda _: None).restart(("postgres",))

    second = live_api.http.post(live_api.url + GENERATE, headers=live_api.auth, json=body, timeout=GENERATE_WAIT_S)
    result = second.json()
    assert second.status_code == 200 and isinstance(result["log_id"], int), result
    assert result["log_id"] > first["log_id"], result
    assert result["logging_error"] is None
    assert live_api.http.get(f"{live_api.url}/api/v1/generations/{result['log_id']}", headers=live_api.auth,
                             timeout=10).status_code == 200


def test_a_store_that_is_down_is_a_503_naming_it(start_api, closed_port):
    api = start_api(postgres_port=closed_port())
    response = api.http.get(f"{api.url}/api/v1/generations/1", headers=api.auth, timeout=30)
    body = response.json()
    assert response.status_code == 503 and response.headers["retry-after"] == "30", body
    assert body["service"] == "postgres" and "cannot connect" in body["message"]
    assert "invoke infra.up -s postgres" in body["fix"]
