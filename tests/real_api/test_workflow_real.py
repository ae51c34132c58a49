"""Seed §4.2 with the paid API: the plan's multi-agent test bodies, and generated tests that pass.

The seed's `real_workflow` is built with its own signatures (the orchestrator from the
API key). Its workflows write to WORKSPACE_DIR/<workspace_id>; the shared workspace
fixture removes that directory, and this fixture removes the workflows' rows and keys.
"""

from __future__ import annotations

import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest

from devmatrix.agents import OrchestratorAgent
from devmatrix.state import SharedScratchpad
from devmatrix.workflows import MultiAgentWorkflow

WORKFLOW_MAX_SECONDS = 120.0


@pytest.mark.real_api
@pytest.mark.real_services
@pytest.mark.e2e
@pytest.mark.timeout(300)
class TestMultiAgentReal:
    """Multi-agent workflow tests with real services."""

    @pytest.fixture
    def real_workflow(self, real_anthropic_client, real_postgres_manager, real_redis_manager,
                      real_workspace_manager):
        scratchpad = SharedScratchpad(redis_manager=real_redis_manager, postgres_manager=real_postgres_manager)
        orchestrator = OrchestratorAgent(api_key=real_anthropic_client.api_key)
        yield MultiAgentWorkflow(orchestrator=orchestrator, scratchpad=scratchpad)
        orchestrator.close()
        for row in real_postgres_manager.execute("SELECT workflow_id FROM workflows WHERE workspace_id = %s",
                                                 (real_workspace_manager.workspace_id,)):
            scratchpad.clear(row["workflow_id"])
        real_postgres_manager.execute("DELETE FROM workflows WHERE workspace_id = %s",
                                      (real_workspace_manager.workspace_id,))

    def test_parallel_task_execution_real(self, real_workflow, real_workspace_manager):
        start = time.time()
        result = real_workflow.execute(
            user_request="Create two independent utility functions: one for JSON validation and one for date"
                         " formatting",
            workspace_id=real_workspace_manager.workspace_id,
        )
        elapsed = time.time() - start

        assert result["success"] is True, result["failed_tasks"]
        assert len(result["completed_tasks"]) == 2
        tasks = result["completed_tasks"]
        assert [t["type"] for t in tasks] == ["implementation", "implementation"]
        assert all(len(t["files"]) == 1 and Path(t["files"][0]).exists() for t in tasks)
        # parallel: each task started before the other finished
        assert max(t["started_at"] for t in tasks) < min(t["finished_at"] for t in tasks)
        assert elapsed < WORKFLOW_MAX_SECONDS

    def test_dependent_task_workflow_real(self, real_workflow, real_workspace_manager):
        result = real_workflow.execute(
            user_request="Create a User model, then create tests for it, then create API endpoints",
            workspace_id=real_workspace_manager.workspace_id,
        )

        assert result["success"] is True, result["failed_tasks"]
        assert len(result["completed_tasks"]) >= 3
        task_types = [t["type"] for t in result["completed_tasks"]]
        assert "implementation" in task_types[0].lower()
        assert "test" in task_types[1].lower()
        assert "api" in task_types[2].lower() or "endpoint" in task_types[2].lower()
        # in order: each step started after the one it depends on had finished
        tasks = result["completed_tasks"]
        assert all(later["started_at"] >= earlier["finished_at"] for earlier, later in pairwise(tasks))

    def test_generated_tests_pass_against_the_generated_implementation(self, real_workflow,
                                                                      real_workspace_manager):
        result = real_workflow.execute("Create a REST API for a todo list", real_workspace_manager.workspace_id)
        assert result["success"], result["failed_tasks"]
        assert [t["type"] for t in result["completed_tasks"]] == ["implementation", "test", "api"]
        # the workspace the workflow wrote to: where its implementation file is
        workspace = Path(result["completed_tasks"][0]["files"][0]).parent
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=workspace,
                             capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stdout[-2000:]
