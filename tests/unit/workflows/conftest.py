"""Stand-ins for the workflow engine's collaborators: a scratchpad in memory, scripted
agents and a planner with a fixed plan, as fixtures (factories). What they replace (Redis,
Postgres, the model) is tested against the real servers in the integration and chaos tiers;
the engine is tested here."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from devmatrix.agents.orchestrator import PlanResult
from devmatrix.agents.plan import parse_plan
from devmatrix.agents.result import GenerationResult
from devmatrix.state.scratchpad import TaskRecord


@dataclass
class MemoryScratchpad:
    workflows: dict[str, dict] = field(default_factory=dict)
    tasks: dict[str, dict[str, TaskRecord]] = field(default_factory=dict)
    sent: dict[str, dict[str, str]] = field(default_factory=dict)  # workflow -> task -> job id
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

    def send_task(self, workflow_id, task_id, task_type, job_id):
        self.sent.setdefault(workflow_id, {})[task_id] = job_id

    def sent_tasks(self, workflow_id):
        done = self.completed_tasks(workflow_id)
        return {k: v for k, v in self.sent.get(workflow_id, {}).items() if k not in done}

    def completed_tasks(self, workflow_id):
        return {k: v for k, v in self.tasks.get(workflow_id, {}).items() if v.status == "completed"}

    def set_state(self, workflow_id, task_id, **values):
        pass

    def clear(self, workflow_id):
        return 0


def _done(path: str) -> GenerationResult:
    return GenerationResult(workspace_id="ws", approval_min_score=7.0, success=True, approval_status="approved",
                            generated_code="x = 1\n", file_written=True, file_path=path, git_commit_hash="abc")


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
        return _done(f"/w/{len(self.calls)}.py")


@dataclass
class CountingAgent:
    """Succeeds after ``hold_s``, or returns a failed result for instructions containing a
    string of ``fails``; records every instruction and the most calls in flight at once."""

    hold_s: float = 0.0
    fails: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_enter: Callable[[], None] = lambda: None

    def generate(self, user_request, workspace_id, git_enabled=True, auto_approve=True, **_):
        with self.lock:
            self.calls.append(user_request)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            self.on_enter()
            time.sleep(self.hold_s)
        finally:
            with self.lock:
                self.in_flight -= 1
        if any(marker in user_request for marker in self.fails):
            return GenerationResult(workspace_id=workspace_id, approval_min_score=7.0,
                                    error="the model's reply has no ```python code block",
                                    error_fix="ask again")
        return _done(f"/w/{len(self.calls)}.py")


@dataclass
class FixedPlanner:
    """An orchestrator whose plan is given: {task id: (type, description, depends_on)}."""

    tasks: dict[str, tuple[str, str, list[str]]]

    def plan(self, user_request: str) -> PlanResult:
        return PlanResult(parse_plan({"tasks": [
            {"id": task_id, "type": kind, "description": text, "depends_on": deps}
            for task_id, (kind, text, deps) in self.tasks.items()]}), "explicit")


@pytest.fixture
def pad() -> MemoryScratchpad:
    return MemoryScratchpad()


@pytest.fixture
def scripted_agent() -> type[ScriptedAgent]:
    return ScriptedAgent


@pytest.fixture
def counting_agent() -> type[CountingAgent]:
    return CountingAgent


@pytest.fixture
def fixed_planner() -> type[FixedPlanner]:
    return FixedPlanner
