"""Backpressure on the real stack: a burst of generations gets 200 or 429, never a false 503.

The API runs API_MAX_CONCURRENT_GENERATIONS generations at once (the local LLM server's
slots by default) and answers the rest 429 with Retry-After before starting them; its
Postgres pool is sized to that bound, so a burst can never exhaust it and read as a
Postgres outage (issue 22: 2 of 16 and 3-8 of 24 concurrent requests got "503 postgres:
... connection pool exhausted — fix: invoke infra.up -s postgres" on a healthy stack).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
GENERATE = "/api/v1/generate"
REQUEST = "Write a Python function multiply(a, b) that returns a * b"  # the pinned model gets it right
ISSUE_BURST = 24  # the largest burst issue 22 measured
# A request that got a slot runs a whole generation: up to two LLM calls queued on two slots.
REQUEST_TIMEOUT_S = 110


def rows_for(postgres, workspace_id: str) -> int:
    return postgres.execute("SELECT COUNT(*) AS n FROM code_generation_logs WHERE workspace_id = %s",
                            (workspace_id,))[0]["n"]


def outcome(response: requests.Response) -> str:
    """"200", or the status and the service an error names ("429 api", "503 postgres")."""
    service = response.json().get("service") if response.status_code != 200 else None
    return f"{response.status_code} {service}" if service else str(response.status_code)


def test_a_burst_of_three_times_the_bound_gets_200_or_429_never_503(live_api, generation_rows):
    limit = live_api.app.state.resources.generation_slots.limit
    burst = max(3 * limit, ISSUE_BURST)
    run = uuid.uuid4().hex[:8]
    everyone_ready = threading.Barrier(burst)

    def generate(index: int) -> tuple[str, requests.Response]:
        workspace = f"api-test-{run}-{index}"
        with requests.Session() as http:  # a connection of its own: all `burst` are in flight at once
            everyone_ready.wait()
            return workspace, http.post(live_api.url + GENERATE, headers=live_api.auth, timeout=REQUEST_TIMEOUT_S,
                                        json={"request": REQUEST, "workspace_id": workspace})

    with ThreadPoolExecutor(max_workers=burst) as pool:
        answers = list(pool.map(generate, range(burst)))

    outcomes = Counter(outcome(response) for _, response in answers)  # e.g. {"200": 2, "429 api": 22}
    first = {outcome(r): r.json()["message"][:300] for _, r in reversed(answers) if r.status_code != 200}
    assert {kind.split()[0] for kind in outcomes} <= {"200", "429"}, (outcomes, first)
    assert outcomes["200"] >= 1, (outcomes, first)
    for workspace, response in answers:
        body = response.json()
        if response.status_code == 429:  # refused before it started: nothing written, nothing logged
            assert int(response.headers["retry-after"]) >= 1
            assert body["error"] == "too_many_requests" and body["service"] == "api", body
            assert body["message"] and body["fix"] and "infra." not in body["fix"]
            assert body["request_id"] == response.headers["x-request-id"]
            assert not (live_api.settings.workspace_dir / workspace).exists()
            assert rows_for(generation_rows, workspace) == 0
        else:  # ran: its row is logged (success or not, the model's outcome is its own)
            assert isinstance(body["log_id"], int) and rows_for(generation_rows, workspace) == 1
    assert live_api.app.state.resources.postgres().max_connections == live_api.app.state.resources.pool_size
