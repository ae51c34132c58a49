"""POST /generate runs the real agent on the local LLM; GET /generations/{id} reads its row back."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from _fixtures.waits import GENERATE_WAIT_S, ONE_GENERATION_TEST_TIMEOUT_S
from devmatrix.rag.retriever import create_retriever

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.real_services]
GENERATE = "/api/v1/generate"


@pytest.fixture
def workspace_id() -> str:
    return f"api-test-{uuid.uuid4().hex[:8]}"


def rows_for(postgres, workspace_id: str) -> int:
    return postgres.execute("SELECT COUNT(*) AS n FROM code_generation_logs WHERE workspace_id = %s",
                            (workspace_id,))[0]["n"]


@pytest.mark.timeout(ONE_GENERATION_TEST_TIMEOUT_S)
def test_generate_returns_the_logged_result_and_the_row_reads_back(live_api, generation_rows, workspace_id):
    request = "Write a Python function multiply(a, b) that returns a * b"  # the pinned model gets it right
    response = live_api.http.post(live_api.url + GENERATE, headers=live_api.auth, timeout=GENERATE_WAIT_S,
                                  json={"request": request, "workspace_id": workspace_id})
    assert response.status_code == 200, response.text
    result = response.json()
    assert isinstance(result["log_id"], int) and result["workspace_id"] == workspace_id
    assert result["backend"] == "local" and result["usage"]["input_tokens"] > 0
    assert result["success"] is True and result["error"] is None, result["error"]
    path = Path(result["file_path"])
    assert result["file_written"] and path.read_text() == result["generated_code"]
    assert path.is_relative_to(live_api.settings.workspace_dir / workspace_id)
    assert result["git_committed"] and len(result["git_commit_hash"]) == 40
    log = subprocess.run(["git", "log", "--format=%H"], cwd=path.parent, check=True, capture_output=True,
                         text=True).stdout.split()
    assert log[0] == result["git_commit_hash"]

    row = live_api.http.get(f"{live_api.url}/api/v1/generations/{result['log_id']}", headers=live_api.auth,
                            timeout=10)
    assert row.status_code == 200
    record = row.json()
    assert record["log_id"] == result["log_id"] and record["user_request"] == request
    assert record["generated_code"] == result["generated_code"] and record["success"] is result["success"]
    assert record["git_commit_hash"] == result["git_commit_hash"]
    assert record["input_tokens"] == result["usage"]["input_tokens"]


def test_refused_requests_run_nothing_and_log_nothing(live_api, generation_rows, workspace_id):
    body = {"request": "Write f()", "workspace_id": workspace_id}
    assert live_api.http.post(live_api.url + GENERATE, json=body, timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert live_api.http.post(live_api.url + GENERATE, json=body, headers=wrong, timeout=10).status_code == 401
    malformed = live_api.http.post(live_api.url + GENERATE, data=b'{"request": ', timeout=10,
                                   headers={**live_api.auth, "Content-Type": "application/json"})
    assert malformed.status_code == 422 and malformed.json()["fields"][0]["field"] == "body"
    too_big = live_api.http.post(live_api.url + GENERATE, data=b"x" * (200 * 1024), timeout=10,
                                 headers={**live_api.auth, "Content-Type": "application/json"})
    assert too_big.status_code == 413 and too_big.json()["error"] == "body_too_large"
    chunked = live_api.http.post(live_api.url + GENERATE, data=iter([b"x" * 65536] * 4), timeout=10,
                                 headers={**live_api.auth, "Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert rows_for(generation_rows, workspace_id) == 0
    assert not (live_api.settings.workspace_dir / workspace_id).exists()


def test_an_unknown_generation_is_a_json_404(live_api):
    response = live_api.http.get(f"{live_api.url}/api/v1/generations/{2**31 - 1}", headers=live_api.auth,
                                 timeout=10)
    assert live_api.http.get(f"{live_api.url}/api/v1/generations/1", timeout=10).status_code == 401
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert "2147483647" in response.json()["message"]


@pytest.mark.timeout(ONE_GENERATION_TEST_TIMEOUT_S)
def test_enable_rag_grounds_the_prompt_and_the_api_loads_no_embedding_model(start_api, generation_rows, workspace_id,
                                                                          llm_recorder):
    live_api = start_api(llm_port=llm_recorder.port)  # its worker's LLM calls go through the recorder
    request = "Write fibonacci(n) with memoization"
    response = live_api.http.post(
        live_api.url + GENERATE, headers=live_api.auth, timeout=GENERATE_WAIT_S,
        json={"request": request, "workspace_id": workspace_id, "enable_rag": True, "git_enabled": False})
    assert response.status_code == 200, response.text
    # retrieval ran on the worker: the API has no retriever at all (nor the agent stack: test_imports.py)
    assert not hasattr(live_api.app.state.resources, "retriever")
    retriever = create_retriever(settings=live_api.settings)
    try:
        retrieved = retriever.retrieve(request).relevant  # at or above RAG_SIMILARITY_THRESHOLD: what the prompt holds
    finally:
        retriever.store.close()
    assert response.json()["rag_examples"] == len(retrieved) >= 1
    generation_prompt = llm_recorder.prompts()[0]  # the first call generates; the next ones review
    for example in retrieved:
        assert example.document.strip() in generation_prompt, f"example {example.id} was not sent"
    assert request in generation_prompt


@pytest.mark.parametrize(("overrides", "words"), [
    ({"rag_enabled": False}, ['RAG_ENABLED=false', '"enable_rag": true']),  # the setting and the body field
    ({"chromadb_collection": "test_never_seeded"}, ["does not exist", "`invoke rag.seed`"]),
])
def test_enable_rag_the_stack_cannot_serve_is_a_409_saying_why(start_api, generation_rows, workspace_id, overrides,
                                                              words):
    live_api = start_api(**overrides)
    response = live_api.http.post(live_api.url + GENERATE, headers=live_api.auth, timeout=60,
                                  json={"request": "Write add(a, b)", "workspace_id": workspace_id,
                                        "enable_rag": True, "git_enabled": False})
    body = response.json()
    assert response.status_code == 409 and body["error"] == "conflict", response.text
    assert all(w in body["message"] + " " + body["fix"] for w in words), body
