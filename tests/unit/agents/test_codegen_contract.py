"""CodeGenerationAgent's error contract: bad model output is a failed result; a service that is
down or frozen is a ServiceError for the caller, after the attempt is logged where it can be.

The model and the log table are not what is tested here, so scripted stand-ins play them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from devmatrix.agents.codegen import CodeGenerationAgent
from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.llm.client import LLMResult

pytestmark = pytest.mark.unit

CODE = "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"


@dataclass
class ScriptedLLM:
    """Plays the model: each call takes the next scripted reply, or raises it."""

    script: list[str | Exception]
    deadlines: list[float | None] = field(default_factory=list)

    def complete(self, messages, *, system=None, max_tokens=1024, temperature=0.0, deadline_s=None,
                 use_cache=True) -> LLMResult:
        self.deadlines.append(deadline_s)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return LLMResult(step, "scripted", "local", 10, 5, 0.0, 0.01, False, "end_turn")


@dataclass
class LogTable:
    rows: list[tuple] = field(default_factory=list)

    def execute(self, sql, params=None):
        self.rows.append(params)
        return [{"id": len(self.rows)}]


def _agent(tmp_path, script) -> tuple[CodeGenerationAgent, ScriptedLLM, LogTable]:
    llm, table = ScriptedLLM(script), LogTable()
    agent = CodeGenerationAgent(settings=Settings(workspace_dir=tmp_path), postgres_manager=table,  # type: ignore[arg-type]
                                llm_client=llm)
    return agent, llm, table


def test_a_service_failure_is_raised_not_folded_into_a_result_and_the_attempt_is_logged(tmp_path):
    down = ServiceError("llm", "cannot reach the local backend", fix="`invoke infra.up -s llm`")
    agent, _, table = _agent(tmp_path, [down])
    with pytest.raises(ServiceError) as caught:
        agent.generate("Write add(a, b)", "ws")
    assert caught.value is down
    assert len(table.rows) == 1  # the failed attempt is still in code_generation_logs
    assert "cannot reach the local backend" in table.rows[0][7]  # the error column


def test_bad_model_output_stays_a_failed_result(tmp_path):
    agent, _, table = _agent(tmp_path, ["I cannot help with that."])
    result = agent.generate("Write add(a, b)", "ws")
    assert result["success"] is False and "no ```python code block" in result["error"]
    assert result["log_id"] == 1 and len(table.rows) == 1


def test_every_llm_call_gets_what_is_left_of_the_generation_deadline(tmp_path):
    agent, llm, _ = _agent(tmp_path, [CODE, "Score (0-10): 8"])
    result = agent.generate("Write add(a, b)", "ws", git_enabled=False)
    assert result["success"] is True, result["error"]
    assert len(llm.deadlines) == 2 and all(d is not None and 0 < d <= 180 for d in llm.deadlines)
    assert llm.deadlines[1] <= llm.deadlines[0]


def test_a_log_row_that_cannot_be_written_is_said_not_hidden(tmp_path):
    class DownTable:
        def execute(self, sql, params=None):
            raise ServiceError("postgres", "query failed", fix="`invoke infra.up -s postgres`")

    agent = CodeGenerationAgent(settings=Settings(workspace_dir=tmp_path), postgres_manager=DownTable(),  # type: ignore[arg-type]
                                llm_client=ScriptedLLM([CODE, "Score (0-10): 8"]))
    result = agent.generate("Write add(a, b)", "ws", git_enabled=False)
    assert result["success"] is True and result["log_id"] is None
    assert result["logging_error"].startswith("the generation was not logged: postgres: query failed")
