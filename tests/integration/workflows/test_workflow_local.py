"""Seed §4.2 on the local backend: plans, dependency order, parallel branches, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest

from _fixtures.waits import GENERATE_WAIT_S, generations_test_timeout
from devmatrix.agents.orchestrator import OrchestratorAgent
from devmatrix.state.scratchpad import SharedScratchpad
from devmatrix.workflows.multi_agent import MultiAgentWorkflow

# A workflow is 3-4 generations, each up to a repair round, on a 135M model that sometimes
# rambles to max_tokens: 50-90 s measured on 2 cores. The suite's 120 s catches hangs; this
# allows the legitimate worst case.
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.real_services, pytest.mark.timeout(300)]
DEVMATRIX = str(Path(sys.executable).parent / "devmatrix")


@pytest.fixture
def scratchpad(real_redis_manager, real_postgres_manager):
    pad = SharedScratchpad(real_redis_manager, real_postgres_manager)
    made: list[str] = []
    yield pad, made
    for workflow_id in made:
        pad.clear(workflow_id)
        real_postgres_manager.execute("DELETE FROM workflows WHERE workflow_id = %s", (workflow_id,))


@pytest.fixture
def workflow_settings(settings, tmp_path):
    """The session's settings with a workspace directory of the test's own (WORKSPACE_DIR)."""
    return settings.model_copy(update={"workspace_dir": tmp_path / "workspaces"})


@pytest.fixture
def workflow(workflow_settings, scratchpad, real_anthropic_client):
    pad, made = scratchpad
    orchestrator = OrchestratorAgent(settings=workflow_settings, llm_client=real_anthropic_client)
    flow = MultiAgentWorkflow(orchestrator, pad, settings=workflow_settings, max_concurrency=2)
    original = flow.execute

    def execute(*args, **kwargs):
        result = original(*args, **kwargs)
        made.append(result["workflow_id"])
        return result

    flow.execute = execute
    return flow


# Requests the pinned 135M model completes with passing evidence. It cannot write pytest tests
# that pass (it writes none, or asserts what its code does not do), so a "tests for it" task
# is rejected on the local backend, as README says; test tasks running against their
# implementation are the paid tier's, run against the Messages-API double in
# tests/real_api/test_workflow_real.py.
THREE_STEPS = ("Write a function add(a, b) that returns the sum, then write a function double(x)"
               " that returns add(x, x), then an API endpoint for it")
TWO_STEPS = "Write a function add(a, b) that returns the sum, then write a function double(x) that returns add(x, x)"


def test_a_three_step_request_runs_in_dependency_order_and_commits_each(workflow, scratchpad, workflow_settings):
    # the pinned model completes all three (about 40 s); the todo example's pattern plan is
    # tests/unit/agents/test_orchestrator.py::test_a_known_request_shape_needs_no_model_call
    pad, _ = scratchpad
    workspace = f"wf-test-{os.getpid()}-{int(time.time())}"
    result = workflow.execute(THREE_STEPS, workspace)
    assert result["success"] is True, result["failed_tasks"]
    assert result["plan_source"] == "explicit" and result["failed_tasks"] == []
    tasks = result["completed_tasks"]
    assert [t["type"] for t in tasks] == ["implementation", "implementation", "api"]
    for earlier, later in pairwise(tasks):  # dependency order in time
        assert earlier["finished_at"] <= later["started_at"]
    root = workflow_settings.workspace_dir / workspace
    files = [Path(t["files"][0]) for t in tasks]
    assert files[2].relative_to(root).as_posix() == "api_t3_an_api_endpoint_for.py"
    assert all(f.parent == root and f.read_text().strip() for f in files)
    log = subprocess.run(["git", "log", "--format=%H"], cwd=root, check=True, capture_output=True,
                         text=True).stdout.split()
    assert log[:3] == [t["commit"] for t in reversed(tasks)]  # one commit per task, in order
    rows = pad.postgres.execute(
        "SELECT task_id, status, git_commit_hash FROM workflow_tasks WHERE workflow_id = %s",
        (result["workflow_id"],))
    assert {r["task_id"]: (r["status"], r["git_commit_hash"]) for r in rows} == {
        t["id"]: ("completed", t["commit"]) for t in tasks}
    assert result["usage"]["output_tokens"] > 0 and result["cost_usd"] == 0.0
    assert pad.live_keys(result["workflow_id"]) == []  # scratchpad cleaned


# That independent tasks run at once (and no more than max_concurrency) is the engine's
# behaviour: tests/unit/workflows/test_multi_agent.py::test_no_more_than_max_concurrency_tasks_run_at_once.


@pytest.mark.timeout(generations_test_timeout(2))  # the first task's generation, then the resumed one
def test_a_killed_workflow_resumes_without_redoing_finished_tasks(scratchpad, workflow_settings, idle_llm):
    pad, made = scratchpad
    # two tasks the pinned model completes (about 10 s each): killed after the first, resumed for the second
    request = TWO_STEPS
    workspace = f"resume-{os.getpid()}-{int(time.time())}"
    env = {**os.environ, "WORKSPACE_DIR": str(workflow_settings.workspace_dir)}
    proc = subprocess.Popen([DEVMATRIX, "workflow", request, "--workspace", workspace, "--json", "--in-process",
                             "--min-score", str(workflow_settings.approval_min_score)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        workflow_id = first_done = None
        deadline = time.monotonic() + GENERATE_WAIT_S
        while time.monotonic() < deadline and first_done is None and proc.poll() is None:
            rows = pad.postgres.execute(
                "SELECT w.workflow_id, t.task_id FROM workflows w JOIN workflow_tasks t USING"
                " (workflow_id) WHERE w.workspace_id = %s AND t.status = 'completed'", (workspace,))
            if rows:
                workflow_id, first_done = rows[0]["workflow_id"], rows[0]["task_id"]
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate()
    assert first_done == "t1_write_a_function_add", f"no task completed within {GENERATE_WAIT_S} s: {stderr[-2000:]}"
    made.append(workflow_id)
    before = pad.completed_tasks(workflow_id)
    assert set(before) == {first_done}, "the kill came after the second task: nothing left to resume"

    resumed = subprocess.run([DEVMATRIX, "workflow", "--resume", workflow_id, "--json", "--in-process",
                              "--min-score", str(workflow_settings.approval_min_score)], env=env,
                             capture_output=True, text=True, timeout=GENERATE_WAIT_S, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads(resumed.stdout)
    assert result["workflow_id"] == workflow_id and result["success"] is True
    assert result["resumed_tasks"] == [first_done]
    assert [t["id"] for t in result["completed_tasks"]] == [first_done, "t2_write_a_function_double"]
    after = pad.completed_tasks(workflow_id)
    assert after[first_done].finished_at == before[first_done].finished_at  # not redone
    assert after[first_done].git_commit_hash == before[first_done].git_commit_hash
    root = workflow_settings.workspace_dir / workspace
    log = subprocess.run(["git", "log", "--format=%H"], cwd=root, check=True, capture_output=True,
                         text=True).stdout.split()
    assert log[:2] == [after["t2_write_a_function_double"].git_commit_hash, after[first_done].git_commit_hash]
