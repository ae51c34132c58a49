"""Seed §4.2 with the paid API: the generated tests pass against the generated code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devmatrix.agents.orchestrator import OrchestratorAgent
from devmatrix.state.postgres import PostgresManager
from devmatrix.state.redis import RedisManager
from devmatrix.state.scratchpad import SharedScratchpad
from devmatrix.workflows.multi_agent import MultiAgentWorkflow

pytestmark = [pytest.mark.real_api, pytest.mark.e2e, pytest.mark.real_services]


def test_generated_tests_pass_against_the_generated_implementation(
        settings, real_anthropic_client, real_workspace_manager):
    postgres, redis_manager = PostgresManager(settings=settings), RedisManager(settings=settings)
    pad = SharedScratchpad(redis_manager, postgres)
    flow = MultiAgentWorkflow(OrchestratorAgent(settings=settings, llm_client=real_anthropic_client),
                              pad, settings=settings)
    result: dict = {}
    try:
        result = flow.execute("Create a REST API for a todo list", real_workspace_manager.workspace_id)
        assert result["success"], result["failed_tasks"]
        assert [t["type"] for t in result["completed_tasks"]] == ["implementation", "test", "api"]
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                             cwd=real_workspace_manager.root, capture_output=True, text=True,
                             timeout=120, check=False)
        assert run.returncode == 0, run.stdout[-2000:]
    finally:
        if result:
            postgres.execute("DELETE FROM workflows WHERE workflow_id = %s", (result["workflow_id"],))
        postgres.close()
        redis_manager.close()
