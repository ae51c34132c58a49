"""A service failing mid-workflow: the run stops `interrupted`, keeps finished work, and resumes.

The agent and the scratchpad's stores are stand-ins (scripted, in memory): the workflow
engine is what is tested; the real stores are the integration and chaos tiers' job."""

from __future__ import annotations

import pytest

from devmatrix.agents.orchestrator import OrchestratorAgent
from devmatrix.agents.result import GenerationResult
from devmatrix.config import Settings
from devmatrix.errors import ServiceError, WorkflowInterrupted
from devmatrix.workflows.multi_agent import MultiAgentWorkflow

pytestmark = pytest.mark.unit
REQUEST = "Write a function is_even(n), then write tests for it, then write docs for it"
IMPL, TESTS, DOCS = "t1_write_a_function_is", "t2_write_tests_for_it", "t3_write_docs_for_it"


def _workflow(agent, pad) -> MultiAgentWorkflow:
    return MultiAgentWorkflow(OrchestratorAgent(settings=Settings()), pad, agent=agent)  # type: ignore[arg-type]


def test_a_service_failure_interrupts_keeps_finished_tasks_and_resume_finishes_the_rest(pad, scripted_agent):
    down = ServiceError("redis", "cannot reach Redis", fix="`invoke infra.up -s redis`")
    agent = scripted_agent(fail_on="pytest tests", error=down)
    with pytest.raises(WorkflowInterrupted) as caught:
        _workflow(agent, pad).execute(REQUEST, "ws")
    error = caught.value
    assert error.service == "redis" and error.exit_code == 3
    assert f"devmatrix workflow --resume {error.workflow_id}" in error.fix and "infra.up -s redis" in error.fix
    assert pad.workflows[error.workflow_id]["status"] == "interrupted"  # not "failed"
    assert set(pad.completed_tasks(error.workflow_id)) == {IMPL}  # the implementation is kept

    agent.error = None  # the service is back
    result = _workflow(agent, pad).execute("", "ws", workflow_id=error.workflow_id)
    assert result["success"] is True and result["resumed_tasks"] == [IMPL]
    assert [t["id"] for t in result["completed_tasks"]] == [IMPL, TESTS, DOCS]
    assert sum("is_even" in c and "Write the Python implementation" in c for c in agent.calls) == 1  # not redone


def test_a_model_failure_still_fails_only_its_dependents(pad, scripted_agent):
    agent = scripted_agent()
    failed = GenerationResult(workspace_id="ws", approval_min_score=7.0, error="no code block", error_fix="ask again")
    agent.generate = lambda user_request, *a, **k: (  # type: ignore[method-assign]
        failed if "pytest tests" in user_request else scripted_agent.generate(agent, user_request, *a, **k))
    result = _workflow(agent, pad).execute(REQUEST, "ws")
    assert result["success"] is False
    statuses = {t["id"]: t["status"] for t in result["failed_tasks"]}
    assert statuses == {TESTS: "failed", DOCS: "skipped"}
    tests_task = next(t for t in result["failed_tasks"] if t["id"] == TESTS)
    assert (tests_task["error"], tests_task["error_fix"]) == ("no code block", "ask again")  # kept apart
