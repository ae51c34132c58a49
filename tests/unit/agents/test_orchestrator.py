"""The LLM planner: one bounded retry with the problem shown, then a clear error.

The model's replies are not ours, so a scripted client stands in for it here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from devmatrix.agents.orchestrator import OrchestratorAgent
from devmatrix.config import Settings
from devmatrix.errors import PlanError

pytestmark = pytest.mark.unit

GOOD = json.dumps({"tasks": [
    {"id": "model", "type": "implementation", "description": "todo model", "depends_on": []},
    {"id": "tests", "type": "test", "description": "tests for it", "depends_on": ["model"]},
]})


@dataclass
class Reply:
    text: str
    input_tokens: int = 10
    output_tokens: int = 5
    cost_usd: float = 0.0


@dataclass
class ScriptedClient:
    replies: list[str]
    model: str = "scripted"
    calls: list[list[dict]] = field(default_factory=list)

    def complete(self, messages, *, system=None, max_tokens=1024, temperature=0.0):
        self.calls.append(list(messages))
        return Reply(self.replies.pop(0))


def agent(*replies: str) -> tuple[OrchestratorAgent, ScriptedClient]:
    client = ScriptedClient(list(replies))
    return OrchestratorAgent(settings=Settings(), llm_client=client), client


def test_a_valid_json_plan_is_used_with_its_usage():
    orchestrator, client = agent(f"Here you go:\n```json\n{GOOD}\n```")
    result = orchestrator.plan("Build a small inventory system")
    assert result.source == "llm" and [t.id for t in result.plan.tasks] == ["model", "tests"]
    assert (result.input_tokens, result.output_tokens) == (10, 5)
    assert len(client.calls) == 1


def test_an_invalid_plan_gets_one_retry_that_names_the_problem():
    cyclic = GOOD.replace('"depends_on": []', '"depends_on": ["tests"]')
    orchestrator, client = agent(cyclic, GOOD)
    assert orchestrator.plan("Build a small inventory system").source == "llm"
    assert "cycle" in client.calls[1][-1]["content"]


def test_two_invalid_plans_are_a_clear_error_without_a_third_call():
    orchestrator, client = agent("no json here", '{"tasks": "nope"}')
    with pytest.raises(PlanError) as caught:
        orchestrator.plan("Build a small inventory system")
    assert "no valid plan in 2 attempts" in str(caught.value)
    assert "state the steps" in str(caught.value)
    assert len(client.calls) == 2


def test_stated_steps_need_no_model_call():
    orchestrator, client = agent()
    result = orchestrator.plan("Write a todo model, then tests for it, then the REST endpoints")
    assert result.source == "explicit" and client.calls == []


def test_an_empty_request_is_refused():
    orchestrator, _ = agent()
    with pytest.raises(PlanError, match="empty"):
        orchestrator.plan("   ")


def test_a_known_request_shape_needs_no_model_call():
    orchestrator, client = agent()
    result = orchestrator.plan("Create a REST API for a todo list")
    assert result.source == "pattern" and client.calls == []
    assert [t.type for t in result.plan.tasks] == ["implementation", "test", "api"]
