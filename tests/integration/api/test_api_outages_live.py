"""The API on the real stack when a store is stopped, when a route crashes, when the paid
backend refuses the key, and under concurrent generations.

A stopped service is this stack's own (`stop_service`), started again after the test."""

from __future__ import annotations

import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr

from _fixtures.waits import GENERATE_WAIT_S, ONE_GENERATION_TEST_TIMEOUT_S

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
GENERATE = "/api/v1/generate"
# the pinned local model gets each of these right (chosen by running them)
REQUESTS = ("Write a Python function multiply(a, b) that returns a * b", "Write is_even(n)")


def assert_unavailable(response, service: str) -> dict:
    body = response.json()
    assert response.status_code == 503 and response.headers["retry-after"] == "30", body
    assert body["error"] == "service_unavailable" and body["service"] == service, body
    assert f"invoke infra.up -s {service}" in body["fix"]
    return body


def test_with_postgres_stopped_generate_and_generations_are_503_and_nothing_runs(start_api, stop_service):
    api = start_api()
    unknown = f"{api.url}/api/v1/generations/{2**31 - 1}"
    assert api.http.get(unknown, headers=api.auth, timeout=30).status_code == 404  # the pool is open
    stop_service("postgres")  # under a running API
    workspace = f"api-test-{uuid.uuid4().hex[:8]}"
    generated = api.http.post(api.url + GENERATE, headers=api.auth, timeout=60,
                              json={"request": REQUESTS[0], "workspace_id": workspace})
    assert_unavailable(generated, "postgres")
    assert not (api.settings.workspace_dir / workspace).exists()  # refused before the model ran
    assert_unavailable(api.http.get(unknown, headers=api.auth, timeout=60), "postgres")


def test_with_redis_stopped_a_cached_generate_is_503_and_generations_still_answer(
        generation_rows, start_api, stop_service):
    api = start_api(llm_cache_enabled=True)  # the API's default: the response cache lives in Redis
    assert api.http.get(f"{api.url}/api/v1/health/ready", timeout=30).status_code == 200
    stop_service("redis")  # under a running API
    workspace = f"api-test-{uuid.uuid4().hex[:8]}"
    generated = api.http.post(api.url + GENERATE, headers=api.auth, timeout=60,
                              json={"request": REQUESTS[0], "workspace_id": workspace})
    body = assert_unavailable(generated, "redis")
    assert "cannot reach Redis at" in body["message"]
    assert not (api.settings.workspace_dir / workspace).exists()
    # reading a logged generation needs Postgres only
    assert api.http.get(f"{api.url}/api/v1/generations/{2**31 - 1}", headers=api.auth,
                        timeout=30).status_code == 404


def test_a_route_that_crashes_is_a_json_500_with_the_request_id_and_no_details(
        live_api, generation_rows):
    # a corrupt row (metadata must be an object) makes the route fail where no handler expects it
    (row,) = generation_rows.execute(
        "INSERT INTO code_generation_logs (workspace_id, user_request, metadata) VALUES"
        " ('api-test-corrupt', 'the secret request text', '[1, 2]'::jsonb) RETURNING id")
    response = live_api.http.get(f"{live_api.url}/api/v1/generations/{row['id']}", headers=live_api.auth,
                                 timeout=10)
    body = response.json()
    assert response.status_code == 500 and response.headers["content-type"] == "application/json"
    assert body["error"] == "internal_error" and body["message"] == "internal error (ValidationError)"
    assert body["request_id"] == response.headers["x-request-id"] and "report it" in body["fix"]
    assert "the secret request text" not in response.text


def test_ready_on_the_anthropic_backend_names_a_rejected_key(start_api, settings):
    # the local server speaks the same API and checks its key as Anthropic's does: 401
    # readiness only: no worker of its own (two starting at once starve the stack's on 2 cores)
    rejected = start_api(with_worker=False, llm_backend="anthropic", anthropic_base_url=settings.llm_base_url,
                         anthropic_api_key=SecretStr("sk-ant-rejected-key"))  # pragma: allowlist secret
    response = rejected.http.get(rejected.url + "/api/v1/health/ready", timeout=30)
    body = response.json()
    assert response.status_code == 503 and body["failed"] == ["llm"], body
    assert "/v1/models answered 401" in body["checks"]["llm"]["detail"]
    assert "check ANTHROPIC_API_KEY" in body["checks"]["llm"]["detail"]
    assert "sk-ant-rejected-key" not in response.text
    accepted = start_api(with_worker=False, llm_backend="anthropic", anthropic_base_url=settings.llm_base_url,
                         anthropic_api_key=settings.llm_local_api_key)
    assert accepted.http.get(accepted.url + "/api/v1/health/ready", timeout=30).status_code == 200


@pytest.mark.timeout(ONE_GENERATION_TEST_TIMEOUT_S)
def test_concurrent_generations_into_one_workspace_each_commit_and_log(live_api, generation_rows):
    workspace = f"api-test-{uuid.uuid4().hex[:8]}"

    def generate(request: str) -> dict:
        response = live_api.http.post(live_api.url + GENERATE, headers=live_api.auth, timeout=GENERATE_WAIT_S,
                                      json={"request": request, "workspace_id": workspace})
        assert response.status_code == 200, response.text
        return response.json()

    with ThreadPoolExecutor(max_workers=len(REQUESTS)) as pool:
        results = list(pool.map(generate, REQUESTS))
    assert all(r["success"] for r in results), [r["error"] for r in results]
    assert len({r["log_id"] for r in results}) == len(REQUESTS)
    assert len({r["file_path"] for r in results}) == len(REQUESTS)
    for result in results:
        assert Path(result["file_path"]).read_text() == result["generated_code"]
    root = live_api.settings.workspace_dir / workspace
    log = subprocess.run(["git", "log", "--format=%H"], cwd=root, check=True, capture_output=True,
                         text=True).stdout.split()
    assert {r["git_commit_hash"] for r in results} <= set(log)  # one commit each, none lost
    rows = generation_rows.execute("SELECT id FROM code_generation_logs WHERE workspace_id = %s", (workspace,))
    assert sorted(r["id"] for r in rows) == sorted(r["log_id"] for r in results)
