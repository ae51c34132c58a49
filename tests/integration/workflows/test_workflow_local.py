"""Seed §4.2 on the local backend: plans, dependency order, parallel branches, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

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
def workflow(settings, scratchpad, real_anthropic_client):
    pad, made = scratchpad
    orchestrator = OrchestratorAgent(settings=settings, llm_client=real_anthropic_client)
    flow = MultiAgentWorkflow(orchestrator, pad, settings=settings, max_concurrency=2)
    original = flow.execute

    def execute(*args, **kwargs):
        result = original(*args, **kwargs)
        made.append(result["workflow_id"])
        return result

    flow.execute = execute
    return flow


def test_todo_api_request_runs_implementation_test_api_in_order(workflow, scratchpad,
                                                                 real_workspace_manager):
    pad, _ = scratchpad
    result = workflow.execute("Create a REST API for a todo list", real_workspace_manager.workspace_id)
    assert result["plan_source"] == "pattern"
    tasks = result["completed_tasks"] + result["failed_tasks"]
    assert [t["type"] for t in tasks] == ["implementation", "test", "api"]
    done = [t for t in tasks if t["status"] == "completed"]
    for earlier, later in pairwise(done):  # dependency order in time
        assert earlier["finished_at"] <= later["started_at"]
    rows = pad.postgres.execute(
        "SELECT task_id, type, status, git_commit_hash FROM workflow_tasks WHERE workflow_id = %s",
        (result["workflow_id"],))
    assert {r["task_id"] for r in rows} >= {t["id"] for t in tasks if t["status"] != "skipped"}
    assert result["usage"]["output_tokens"] > 0 and result["cost_usd"] == 0.0
    files = [f for t in done for f in t["files"]]
    assert len(files) == len(set(files)), f"a task overwrote another's file: {files}"
    for task in done:
        if task["type"] != "implementation":
            assert task["files"][0].endswith({"test": "tests/test_tests.py", "api": "api_endpoints.py"}[task["type"]])
    if result["success"]:
        assert pad.live_keys(result["workflow_id"]) == []  # scratchpad cleaned


def test_independent_tasks_overlap_in_time(workflow, real_workspace_manager):
    result = workflow.execute(
        "Create two independent utility functions: one for JSON validation and one for date"
        " formatting", real_workspace_manager.workspace_id)
    tasks = result["completed_tasks"] + result["failed_tasks"]
    assert len(tasks) == 2
    starts = [datetime.fromisoformat(t["started_at"]) for t in tasks]
    ends = [datetime.fromisoformat(t["finished_at"]) for t in tasks]
    assert max(starts) < min(ends), "the two branches did not run at the same time"
    assert result["duration_s"] < sum(t["duration_s"] for t in tasks) + 1.0


def test_a_killed_workflow_resumes_without_redoing_finished_tasks(settings, scratchpad, tmp_path):
    pad, made = scratchpad
    request = ("Write a slugify function, then tests for it, then an API endpoint for it,"
               " then documentation for it")
    workspace = f"resume-{os.getpid()}-{int(time.time())}"
    proc = subprocess.Popen([DEVMATRIX, "workflow", request, "--workspace", workspace, "--json",
                             "--min-score", str(settings.approval_min_score)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        workflow_id, first_done = None, None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and first_done is None:
            rows = pad.postgres.execute(
                "SELECT w.workflow_id, t.task_id FROM workflows w JOIN workflow_tasks t USING"
                " (workflow_id) WHERE w.workspace_id = %s AND t.status IN ('completed', 'failed')",
                (workspace,))
            if rows:
                workflow_id, first_done = rows[0]["workflow_id"], rows[0]["task_id"]
            time.sleep(0.2)
        assert first_done, "no task finished within 90 s"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    made.append(workflow_id)
    before = pad.completed_tasks(workflow_id)
    resumed = subprocess.run([DEVMATRIX, "workflow", "--resume", workflow_id, "--json",
                              "--min-score", str(settings.approval_min_score)],
                             capture_output=True, text=True, timeout=110, check=False)
    result = json.loads(resumed.stdout)
    assert result["workflow_id"] == workflow_id
    assert set(result["resumed_tasks"]) == set(before)
    for task_id, record in before.items():  # not redone: same commit, same finish time
        after = pad.completed_tasks(workflow_id)[task_id]
        assert after.finished_at == record.finished_at
        assert after.git_commit_hash == record.git_commit_hash
