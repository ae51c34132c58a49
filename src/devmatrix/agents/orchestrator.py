"""OrchestratorAgent (seed §4.2): split a request into typed, dependent tasks.

A request that states its own steps is planned from its words (see
`plan.explicit_plan`), a known request shape by its rule (`plan.pattern_plan`,
e.g. "a REST API for X"); otherwise the model is asked for a JSON plan, which is
validated as a whole. An invalid plan gets exactly one retry, with the
validation error shown to the model; a second invalid plan is a PlanError.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from devmatrix.agents._llm_client import AgentClient
from devmatrix.agents.plan import MAX_TASKS, TASK_TYPES, Plan, explicit_plan, parse_plan, pattern_plan
from devmatrix.config import Settings, load_settings
from devmatrix.errors import PlanError

PLAN_ATTEMPTS = 2  # the first answer, and one bounded retry
PLAN_MAX_TOKENS = 800

SYSTEM = (
    "You are a software project planner. Split the user's request into at most "
    f"{MAX_TASKS} tasks. Answer with JSON only, exactly of this shape: "
    '{"tasks": [{"id": "model", "type": "implementation", "description": "...", '
    '"depends_on": []}]}. '
    f"type is one of: {', '.join(TASK_TYPES)}. id is lower_snake_case. depends_on lists "
    "ids of tasks that must be finished first; independent tasks depend on nothing."
)
_JSON_BLOCK = re.compile(r"\{.*\}", re.S)


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    source: str  # "explicit" (the request's own steps), "pattern" (a known shape) or "llm"
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


def extract_json(text: str) -> object:
    """The JSON object in a model's reply (bare, or inside a ``` fence)."""
    match = _JSON_BLOCK.search(text)
    if not match:
        raise ValueError("the reply contains no JSON object")
    return json.loads(match.group(0))


class OrchestratorAgent:
    def __init__(self, api_key: str | None = None, *, settings: Settings | None = None,
                 llm_client: object | None = None) -> None:
        self.settings = settings or load_settings()
        self.api_key = api_key
        self._llm = AgentClient(self.settings, llm_client, **({"api_key": api_key} if api_key else {}))

    @property
    def client(self):  # the AnthropicClient, built on first use
        return self._llm.get()

    def close(self) -> None:
        """Close the LLM client this agent built (one it was given belongs to the giver)."""
        self._llm.close()

    def plan(self, user_request: str) -> PlanResult:
        if not user_request.strip():
            raise PlanError("the request is empty", fix="say what to build")
        stated = explicit_plan(user_request)
        if stated is not None:
            return PlanResult(stated, "explicit")
        known = pattern_plan(user_request)
        if known is not None:
            return PlanResult(known, "pattern")
        messages: list[dict] = [{"role": "user", "content": user_request}]
        usage = [0, 0, 0.0]
        problem = ""
        for _ in range(PLAN_ATTEMPTS):
            reply = self.client.complete(messages, system=SYSTEM, max_tokens=PLAN_MAX_TOKENS)
            usage = [usage[0] + reply.input_tokens, usage[1] + reply.output_tokens,
                     usage[2] + reply.cost_usd]
            try:
                plan = parse_plan(extract_json(reply.text))
                return PlanResult(plan, "llm", *usage)
            except (ValueError, PlanError) as error:
                problem = error.message if isinstance(error, PlanError) else str(error)
                messages += [
                    {"role": "assistant", "content": reply.text},
                    {"role": "user", "content": f"That plan is invalid: {problem}. "
                                                "Answer again with corrected JSON only."},
                ]
        raise PlanError(
            f"the model ({self.client.model}) gave no valid plan in {PLAN_ATTEMPTS} attempts;"
            f" last problem: {problem}",
            fix="state the steps in the request ('build X, then tests for it, then the API'),"
                " or use a stronger model (LLM_BACKEND=anthropic)",
        )
