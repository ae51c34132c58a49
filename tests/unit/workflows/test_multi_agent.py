"""The workflow engine with a scripted agent: what runs, what is skipped, how many at once,
and what a resume does. The model and the stores are stand-ins (tests/unit/workflows/conftest.py)."""

from __future__ import annotations

import pytest

from devmatrix.agents.result import GenerationResult
from devmatrix.config import Settings
from devmatrix.errors import WorkflowError
from devmatrix.workflows.multi_agent import MultiAgentWorkflow

pytestmark = pytest.mark.unit


def _workflow(planner, pad, agent, **kwargs) -> MultiAgentWorkflow:
    return MultiAgentWorkflow(planner, pad, agent=agent, settings=Settings(), **kwargs)  # type: ignore[arg-type]


def _calls_for(agent, marker: str) -> int:
    return sum(marker in call for call in agent.calls)


def test_the_dependents_of_a_failed_task_are_skipped_and_never_run(pad, counting_agent, fixed_planner):
    planner = fixed_planner({
        "impl": ("implementation", "write parse_date BROKEN", []),
        "tests": ("test", "test parse_date TESTS_MARK", ["impl"]),
        "docs": ("docs", "document parse_date DOCS_MARK", ["tests"]),
        "other": ("implementation", "write slugify OTHER_MARK", []),
    })
    agent = counting_agent(fails={"BROKEN"})
    result = _workflow(planner, pad, agent).execute("r", "ws")
    statuses = {t["id"]: t["status"] for t in result["completed_tasks"] + result["failed_tasks"]}
    assert statuses == {"impl": "failed", "tests": "skipped", "docs": "skipped", "other": "completed"}
    assert _calls_for(agent, "TESTS_MARK") == 0 and _calls_for(agent, "DOCS_MARK") == 0
    assert _calls_for(agent, "OTHER_MARK") == 1  # an independent branch still runs
    skipped = {t["id"]: t["error"] for t in result["failed_tasks"] if t["status"] == "skipped"}
    assert skipped == {"tests": "dependency 'impl' failed", "docs": "dependency 'impl' failed"}
    assert result["success"] is False and pad.workflows[result["workflow_id"]]["status"] == "failed"


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_no_more_than_max_concurrency_tasks_run_at_once(pad, counting_agent, fixed_planner, limit):
    planner = fixed_planner({f"t{i}": ("implementation", f"write function number {i}", []) for i in range(4)})
    agent = counting_agent(hold_s=0.3)  # long enough for every allowed task to be started meanwhile
    result = _workflow(planner, pad, agent, max_concurrency=limit).execute("r", "ws")
    assert result["success"] is True and len(agent.calls) == 4
    assert agent.peak == limit


def test_a_resume_runs_failed_tasks_again_and_keeps_completed_ones(pad, counting_agent, fixed_planner):
    planner = fixed_planner({
        "impl": ("implementation", "write slugify IMPL_MARK", []),
        "flaky": ("implementation", "write parse_date FLAKY_MARK", []),
        "tests": ("test", "test parse_date TESTS_MARK", ["flaky"]),
    })
    agent = counting_agent(fails={"FLAKY_MARK"})
    first = _workflow(planner, pad, agent).execute("r", "ws")
    assert first["success"] is False
    assert {t["id"] for t in first["failed_tasks"]} == {"flaky", "tests"}

    agent.fails.clear()  # the model gets it right this time
    resumed = _workflow(planner, pad, agent).execute("", "ws", workflow_id=first["workflow_id"])
    assert resumed["success"] is True and resumed["resumed_tasks"] == ["impl"]
    assert [t["id"] for t in resumed["completed_tasks"]] == ["impl", "flaky", "tests"]
    assert _calls_for(agent, "FLAKY_MARK") == 2 and _calls_for(agent, "TESTS_MARK") == 1
    assert _calls_for(agent, "IMPL_MARK") == 1  # not redone
    assert pad.workflows[first["workflow_id"]]["status"] == "completed"


def test_resuming_an_unknown_workflow_is_a_clear_error_and_runs_nothing(pad, counting_agent, fixed_planner):
    agent = counting_agent()
    workflow = _workflow(fixed_planner({"t": ("implementation", "write f", [])}), pad, agent)
    with pytest.raises(WorkflowError) as caught:
        workflow.execute("", "ws", workflow_id="wf-000000000000")
    assert caught.value.message == "no workflow 'wf-000000000000' to resume"
    assert caught.value.fix == "check the id printed by the first run"
    assert agent.calls == [] and pad.workflows == {}


class _WritingAgent:
    """Writes ``def add`` for the first task and records every instruction."""

    def __init__(self, root):
        self.root, self.calls = root, []

    def generate(self, user_request, workspace_id, **_):
        self.calls.append(user_request)
        code = ("import os\n\n\ndef add(a, b):\n    return a + b\n\n\nclass Adder:\n    pass\n\n\n"
                "def _private():\n    pass\n")
        return GenerationResult(workspace_id=workspace_id, approval_min_score=7.0, success=True,
                                approval_status="approved", generated_code=code, file_written=True,
                                file_path=str(self.root / workspace_id / "pkg" / "add.py"), git_commit_hash="abc")


def test_a_dependent_task_is_told_the_import_line_of_its_dependencys_public_names(pad, fixed_planner, tmp_path):
    # without it the 135M model imports from a module named after the header ("from task import …")
    planner = fixed_planner({"impl": ("implementation", "write add", []),
                             "tests": ("test", "test add", ["impl"])})
    agent = _WritingAgent(tmp_path)
    flow = MultiAgentWorkflow(planner, pad, agent=agent,  # type: ignore[arg-type]
                              settings=Settings(workspace_dir=tmp_path))
    assert flow.execute("r", "ws")["success"] is True
    dependent = agent.calls[1]
    assert ("# pkg/add.py (from task impl, implementation)\n"
            "# import it with: from pkg.add import add, Adder\n") in dependent
    assert str(tmp_path) not in dependent  # the machine's paths stay out of the prompt
