"""A service failing mid-workflow: the run stops `interrupted`, keeps finished work, and resumes.

The agent and the scratchpad's stores are stand-ins (scripted, in memory): the workflow
engine is what is tested; the real stores are the integration and chaos tiers' job."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from devmatrix.agents.orchestrator import OrchestratorAgent
from devmatrix.config import Settings
from devmatrix.errors import ServiceError, WorkflowInterrupted
from devmatrix.state.scratchpad import TaskRecord
from devmatrix.workflows.multi_agent import MultiAgentWorkflow

pytestmark = pytest.mark.unit
REQUEST = "Write a function is_even(n), then write tests for it, then write docs for it"
IMPL, TESTS, DOCS = "t1_write_a_function_is", "t2_write_tests_for_it", "t3_write_docs_for_it"


@dataclass
class MemoryScratchpad:
    workflows: dict[str, dict] = field(default_factory=dict)
    tasks: dict[str, dict[str, TaskRecord]] = field(default_factory=dict)
    postgres: object = None

    def start_workflow(self, workflow_id, user_request, workspace_id, plan, plan_source):
        self.workflows[workflow_id] = {"workspace_id": workspace_id, "plan": plan, "plan_source": plan_source,
                                       "status": "running"}

    def load_workflow(self, workflow_id):
        return self.workflows.get(workflow_id)

    def finish_workflow(self, workflow_id, status):
        self.workflows[workflow_id]["status"] = status

    def persist_task(self, workflow_id, record):
        self.tasks.setdefault(workflow_id, {})[record.task_id] = record

    def completed_tasks(self, workflow_id):
        return {k: v for k, v in self.tasks.get(workflow_id, {}).items() if v.status == "completed"}

    def set_state(self, workflow_id, task_id, **values):
        pass

    def clear(self, workflow_id):
        return 0


@dataclass
class ScriptedAgent:
    """Succeeds, except the task whose instruction contains ``fail_on`` raises ``error``."""

    fail_on: str | None = None
    error: Exception | None = None
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def generate(self, user_request, workspace_id, git_enabled=True, auto_approve=True, **_):
        with self.lock:
            self.calls.append(user_request)
        if self.fail_on and self.fail_on in user_request and self.error is not None:
            raise self.error
        return {"success": True, "generated_code": "x = 1\n", "file_written": True,
                "file_path": f"/w/{len(self.calls)}.py", "git_commit_hash": "abc", "usage": {}, "cost_usd": 0}


def _workflow(agent, pad) -> MultiAgentWorkflow:
    return MultiAgentWorkflow(OrchestratorAgent(settings=Settings()), pad, agent=agent)  # type: ignore[arg-type]


def test_a_service_failure_interrupts_keeps_finished_tasks_and_resume_finishes_the_rest():
    pad = MemoryScratchpad()
    down = ServiceError("redis", "cannot reach Redis", fix="`invoke infra.up -s redis`")
    agent = ScriptedAgent(fail_on="pytest tests", error=down)
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


def test_a_model_failure_still_fails_only_its_dependents():
    pad = MemoryScratchpad()
    agent = ScriptedAgent()
    agent.generate = lambda user_request, *a, **k: (  # type: ignore[method-assign]
        {"success": False, "error": "no code block"} if "pytest tests" in user_request
        else ScriptedAgent.generate(agent, user_request, *a, **k))
    result = _workflow(agent, pad).execute(REQUEST, "ws")
    assert result["success"] is False
    statuses = {t["id"]: t["status"] for t in result["failed_tasks"]}
    assert statuses == {TESTS: "failed", DOCS: "skipped"}
