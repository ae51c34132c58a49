"""Seed §2.2 E2E cases on the local backend: the pipeline contract a user relies on.

SmolLM2-135M writes syntactically valid but often wrong code, so these tests
assert the contract (file, commit, row, usage, cost, cache), not code quality;
the quality thresholds are in tests/real_api/. The model is deterministic here
(tests/integration/conftest.py), so each request's outcome is pinned: the requests
were chosen by running them, and each test asserts the one contract that applies.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from _fixtures.waits import ONE_GENERATION_TEST_TIMEOUT_S
from devmatrix.agents.codegen import CodeGenerationAgent
from devmatrix.agents.result import GenerationResult

# every test here runs whole generations in-process: the agent ends each within its own deadline
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.real_services,
              pytest.mark.timeout(ONE_GENERATION_TEST_TIMEOUT_S)]


def assert_contract(result: GenerationResult, postgres) -> None:
    """What holds for every generation, successful or not: a logged, explained result."""
    row = postgres.get_generation(result["log_id"])
    assert row is not None, "every generation logs its row"
    assert row["success"] is result["success"]
    assert row["generated_code"] == result["generated_code"]
    assert row["approval_status"] == result["approval_status"]
    assert result["usage"]["input_tokens"] > 0 and result["usage"]["output_tokens"] > 0
    assert result["cost_usd"] == 0.0 and result["backend"] == "local"
    if not result["success"]:
        assert result["error"] and (row["error"], row["error_fix"]) == (result["error"], result["error_fix"])


def assert_written_and_committed(result: GenerationResult, workspace) -> None:
    assert result["success"] is True, result["error"]
    assert result["approval_status"] == "approved" and result["file_written"] is True
    path = Path(result["file_path"])
    assert path.is_relative_to(workspace.root) and path.read_text() == result["generated_code"]
    assert result["git_committed"] is True and len(result["git_commit_hash"]) == 40
    log = subprocess.run(["git", "log", "--format=%H", "-1"], cwd=path.parent, check=True,
                         capture_output=True, text=True).stdout.strip()
    assert log == result["git_commit_hash"]
    assert 0 <= result["quality_score"] <= 10
    # committed on evidence: it parsed, passed ruff and imported in the sandbox
    assert result["evidence_passed"] is True
    assert {check["name"] for check in result["evidence"]} == {"ast", "ruff", "import", "pytest"}


def test_e2e_fibonacci_writes_commits_and_logs(real_agent, real_workspace_manager,
                                               real_postgres_manager):
    result = real_agent.generate("Create a fibonacci function with memoization",
                                 workspace_id=real_workspace_manager.workspace_id,
                                 base_path=str(real_workspace_manager.root))
    assert_contract(result, real_postgres_manager)
    assert_written_and_committed(result, real_workspace_manager)
    assert "fibonacci" in result["file_path"].lower()
    assert "def fibonacci" in result["generated_code"]


def test_e2e_second_identical_request_is_served_from_the_cache(settings, cached_client, real_workspace_manager,
                                                               real_postgres_manager):
    real_agent = CodeGenerationAgent(settings=settings, postgres_manager=real_postgres_manager,
                                     llm_client=cached_client)
    request = "Create a fibonacci function with memoization"
    kwargs = {"workspace_id": real_workspace_manager.workspace_id,
              "base_path": str(real_workspace_manager.root), "git_enabled": False}
    first = real_agent.generate(request, **kwargs)
    second = real_agent.generate(request, **kwargs)
    assert first["cache_hit"] is False and second["cache_hit"] is True
    assert second["generated_code"] == first["generated_code"]
    assert_contract(second, real_postgres_manager)


def test_e2e_invalid_python_is_repaired_once_then_fails_naming_the_error(real_agent, real_workspace_manager,
                                                                          real_postgres_manager):
    # the pinned model's module ends in an unterminated string, and again when asked to repair
    # (it wrote a Calculator class with empty methods before the agent asked for tests as well)
    result = real_agent.generate(
        "Create a REST API for a todo list",
        workspace_id=real_workspace_manager.workspace_id,
        base_path=str(real_workspace_manager.root))
    assert_contract(result, real_postgres_manager)
    assert result["success"] is False and result["approval_status"] == "error"
    assert result["error"].startswith("the generated code is not valid Python (line ")
    assert "and the repair round failed too" in result["error"]
    assert result["file_written"] is False and result["git_committed"] is False
    assert real_workspace_manager.repo.head.commit.message == "chore: init test workspace"
    assert [p.name for p in real_workspace_manager.root.iterdir() if p.name != ".git"] == [".gitkeep"]


REVIEW_GATE = 7.0  # the default APPROVAL_MIN_SCORE; this tier otherwise runs with the gate at 0


def test_e2e_on_the_local_backend_the_score_is_advisory_and_the_evidence_decides(
        real_agent, real_workspace_manager, real_postgres_manager):
    """Before evidence, this reply waited for a person (pending_review) because the 135M model
    scored it below the gate. The score is advisory on the local backend now: the reply parses,
    passes ruff and imports in the sandbox (it brings no tests), so it is committed."""
    result = real_agent.generate("Make a thing", workspace_id=real_workspace_manager.workspace_id,
                                 base_path=str(real_workspace_manager.root), auto_approve=False,
                                 min_score=REVIEW_GATE)
    assert_contract(result, real_postgres_manager)
    assert_written_and_committed(result, real_workspace_manager)
    assert result["quality_score"] < REVIEW_GATE and result["score_advisory"] is True
    row = real_postgres_manager.get_generation(result["log_id"])
    assert row["metadata"]["evidence_passed"] is True and row["metadata"]["score_advisory"] is True


@pytest.mark.parametrize("request_text, expected", [
    ("", "the request is empty"),
    ("x" * 100_000, "the limit is 20,000"),
    ("Write fibonacci and save it to ../../outside.py", "outside the workspace"),
])
def test_bad_requests_fail_clearly_and_are_logged(real_agent, real_workspace_manager,
                                                  real_postgres_manager, request_text, expected):
    root = real_workspace_manager.root
    outside = (root / "../../outside.py").resolve()  # where the hinted path would land
    assert not outside.exists()
    result = real_agent.generate(request_text, workspace_id=real_workspace_manager.workspace_id,
                                 base_path=str(root))
    assert result["success"] is False and expected in result["error"]
    assert result["usage"].model_dump() == {"input_tokens": 0, "output_tokens": 0}  # refused before any LLM call
    assert not outside.exists()
    assert [p.name for p in root.iterdir() if p.name != ".git"] == [".gitkeep"]
    row = real_postgres_manager.get_generation(result["log_id"])
    assert (row["error"], row["error_fix"]) == (result["error"], result["error_fix"]) and result["error_fix"]


def test_postgres_down_during_logging_still_returns_the_result(settings, real_anthropic_client,
                                                                real_workspace_manager):
    broken = settings.model_copy(update={"postgres_port": 1})
    agent = CodeGenerationAgent(settings=broken, llm_client=real_anthropic_client)
    result = agent.generate("Create a fibonacci function with memoization",
                            workspace_id=real_workspace_manager.workspace_id,
                            base_path=str(real_workspace_manager.root), git_enabled=False)
    assert result["generated_code"] and result["log_id"] is None
    assert "was not logged" in result["logging_error"] and "127.0.0.1:1/" in result["logging_error"]
