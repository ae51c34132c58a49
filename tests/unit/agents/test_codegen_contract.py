"""CodeGenerationAgent's error contract: bad model output is a failed result; a service that is
down or frozen is a ServiceError for the caller, after the attempt is logged where it can be.

The model and the log table are not what is tested here, so scripted stand-ins play them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import git
import pytest

from devmatrix.agents.codegen import CodeGenerationAgent
from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.llm.client import LLMResult
from devmatrix.workspace.manager import REVIEW_DIR

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


# --- the review gate (agents/approval.py): only code at or above it is committed ---------
def _generate(tmp_path: Path, score: str, **kwargs) -> tuple[dict, LogTable]:
    table = LogTable()
    agent = CodeGenerationAgent(settings=Settings(workspace_dir=tmp_path, approval_min_score=7.0),
                                postgres_manager=table,  # type: ignore[arg-type]
                                llm_client=ScriptedLLM([CODE, f"Score (0-10): {score}"]))
    return agent.generate("Write add(a, b)", "ws", **kwargs), table


def _commits(tmp_path: Path) -> int:
    repo = git.Repo(tmp_path / "ws")
    return len(list(repo.iter_commits())) if repo.head.is_valid() else 0


def test_a_score_below_the_gate_is_rejected_kept_to_read_and_never_committed(tmp_path):
    result, table = _generate(tmp_path, "0")
    assert result["success"] is False and result["approval_status"] == "rejected"
    assert "scored the code 0/10, below APPROVAL_MIN_SCORE=7" in result["error"]
    kept = Path(result["file_path"])
    assert kept == tmp_path / "ws" / REVIEW_DIR / "rejected" / "add.py"
    assert kept.read_text() == result["generated_code"]
    assert result["git_committed"] is False and result["git_commit_hash"] is None
    assert _commits(tmp_path) == 0
    assert table.rows[0][3] == "rejected"  # the approval_status column of the log row
    # the next generation's commit of "everything changed" does not sweep it in either
    assert git.Repo(tmp_path / "ws").git.status("--porcelain") == ""


def test_a_score_below_the_gate_waits_for_a_person_when_review_is_asked_for(tmp_path):
    result, _ = _generate(tmp_path, "3", auto_approve=False)
    assert result["success"] is True and result["approval_status"] == "pending_review"
    assert Path(result["file_path"]).parent == tmp_path / "ws" / REVIEW_DIR / "pending_review"
    assert result["git_committed"] is False and _commits(tmp_path) == 0


def test_a_score_at_the_gate_is_committed_as_approved(tmp_path):
    result, _ = _generate(tmp_path, "7")
    assert result["success"] is True and result["approval_status"] == "approved"
    assert result["file_path"] == str(tmp_path / "ws" / "add.py") and _commits(tmp_path) == 1


def test_min_score_per_call_overrides_the_setting(tmp_path):
    result, _ = _generate(tmp_path, "2", min_score=2.0)
    assert result["approval_status"] == "approved" and result["approval_min_score"] == 2.0


def test_rag_enabled_false_refuses_retrieval_before_any_llm_call(tmp_path):
    llm = ScriptedLLM([CODE, "Score (0-10): 9"])
    agent = CodeGenerationAgent(settings=Settings(workspace_dir=tmp_path, rag_enabled=False),
                                postgres_manager=LogTable(), llm_client=llm)  # type: ignore[arg-type]
    result = agent.generate("Write add(a, b)", "ws", enable_rag=True)
    assert result["success"] is False and "RAG_ENABLED=false" in result["error"]
    assert len(llm.script) == 2  # the model was never asked
