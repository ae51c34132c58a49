"""CodeGenerationAgent's error contract: bad model output is a failed result; a service that is
down or frozen is a ServiceError for the caller, after the attempt is logged where it can be.

The model, the log table and the sandbox's evidence are not what is tested here, so scripted
stand-ins play them (the evidence itself is tested in tests/integration/evidence)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import git
import pytest

from devmatrix.agents.codegen import CodeGenerationAgent
from devmatrix.agents.remedies import API, CLI_GENERATE, CLI_WORKFLOW
from devmatrix.agents.result import GenerationResult
from devmatrix.config import Settings
from devmatrix.errors import CollectionMissing, RAGDisabled, SandboxUnavailable, ServiceError
from devmatrix.evidence import CheckResult, Evidence
from devmatrix.llm.client import LLMResult
from devmatrix.workspace.manager import REVIEW_DIR

pytestmark = pytest.mark.unit

CODE = "```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"


@dataclass
class ScriptedLLM:
    """Plays the model: each call takes the next scripted reply, or raises it."""

    script: list[str | Exception]
    backend: str = "local"
    deadlines: list[float | None] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)

    def complete(self, messages, *, system=None, max_tokens=1024, temperature=0.0, deadline_s=None,
                 use_cache=True) -> LLMResult:
        self.deadlines.append(deadline_s)
        self.prompts.append(messages)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return LLMResult(step, "scripted", self.backend, 10, 5, 0.0, 0.01, False, "end_turn")


@dataclass
class ScriptedEvidence:
    """Plays the sandbox's checks: each gathering takes the next verdict (True: passed; a string:
    a failed pytest with that output; an exception: raised), and records what it was shown."""

    script: list[bool | str | Exception] = field(default_factory=lambda: [True] * 5)
    shown: list[tuple[dict, list]] = field(default_factory=list)

    def __call__(self, files, targets) -> Evidence:
        self.shown.append((dict(files), list(targets)))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        target = next(iter(targets))
        checks = [CheckResult("ast", target, True, "", 0.0), CheckResult("import", target, True, "", 0.1)]
        if step is True:
            return Evidence(target, (*checks, CheckResult("pytest", ".", True, "no tests found", 0.0, skipped=True)))
        return Evidence(target, (*checks, CheckResult("pytest", target, False, str(step), 0.5)))


@dataclass
class LogTable:
    """Plays code_generation_logs: keeps each INSERT's row as {column: value}."""

    rows: list[dict] = field(default_factory=list)

    def execute(self, sql, params=None):
        columns = sql[sql.index("(") + 1:sql.index(")")].split(", ")
        self.rows.append(dict(zip(columns, params, strict=True)))
        return [{"id": len(self.rows)}]


def _agent(tmp_path, script) -> tuple[CodeGenerationAgent, ScriptedLLM, LogTable]:
    llm, table = ScriptedLLM(script), LogTable()
    agent = CodeGenerationAgent(settings=Settings(workspace_dir=tmp_path), postgres_manager=table,  # type: ignore[arg-type]
                                llm_client=llm, evidence=ScriptedEvidence())
    return agent, llm, table


def test_a_service_failure_is_raised_not_folded_into_a_result_and_the_attempt_is_logged(tmp_path):
    down = ServiceError("llm", "cannot reach the local backend", fix="`invoke infra.up -s llm`")
    agent, _, table = _agent(tmp_path, [down])
    with pytest.raises(ServiceError) as caught:
        agent.generate("Write add(a, b)", "ws")
    assert caught.value is down
    assert len(table.rows) == 1  # the failed attempt is still in code_generation_logs
    assert table.rows[0]["error"] == "llm: cannot reach the local backend"  # message and fix, apart
    assert table.rows[0]["error_fix"] == "`invoke infra.up -s llm`"


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
                                llm_client=ScriptedLLM([CODE, "Score (0-10): 8"]), evidence=ScriptedEvidence())
    result = agent.generate("Write add(a, b)", "ws", git_enabled=False)
    assert result["success"] is True and result["log_id"] is None
    assert result["logging_error"].startswith("the generation was not logged: postgres: query failed")


# --- the review gate (agents/approval.py): where the score counts (the paid API), only code
# at or above it is committed ---------------------------------------------------------------
def _generate(tmp_path: Path, score: str, backend: str = "anthropic", **kwargs) -> tuple[GenerationResult, LogTable]:
    table = LogTable()
    agent = CodeGenerationAgent(settings=Settings(workspace_dir=tmp_path, approval_min_score=7.0),
                                postgres_manager=table,  # type: ignore[arg-type]
                                llm_client=ScriptedLLM([CODE, f"Score (0-10): {score}"], backend=backend),
                                evidence=ScriptedEvidence())
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
    assert table.rows[0]["approval_status"] == "rejected"  # the approval_status column of the log row
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


def test_rag_enabled_false_refuses_retrieval_before_any_llm_call_as_a_settings_error(tmp_path):
    llm = ScriptedLLM([CODE, "Score (0-10): 9"])
    agent = CodeGenerationAgent(settings=Settings(workspace_dir=tmp_path, rag_enabled=False),
                                postgres_manager=LogTable(), llm_client=llm, remedies=CLI_GENERATE,
                                evidence=ScriptedEvidence())  # type: ignore[arg-type]
    with pytest.raises(RAGDisabled) as caught:
        agent.generate("Write add(a, b)", "ws", enable_rag=True)
    assert str(caught.value) == ("retrieval was asked for (--rag) but RAG_ENABLED=false — fix: set RAG_ENABLED=true"
                                 " in .env.test and `invoke rag.seed`, or ask without --rag")
    assert caught.value.exit_code == 2 and caught.value.http_status == 409  # not 1: the model did nothing wrong
    assert len(llm.script) == 2  # the model was never asked


class _EmptyStore:
    collection_name = "devmatrix_code_examples"

    def count(self) -> int:
        return 0


class _NothingRetriever:
    store = _EmptyStore()

    def retrieve(self, request):
        return type("Retrieval", (), {"results": []})()


def test_an_empty_collection_is_a_stack_not_set_up_exit_5(tmp_path):
    llm = ScriptedLLM([CODE, "Score (0-10): 9"])
    agent = CodeGenerationAgent(settings=Settings(workspace_dir=tmp_path), postgres_manager=LogTable(),  # type: ignore[arg-type]
                                llm_client=llm, retriever=_NothingRetriever(), remedies=API,
                                evidence=ScriptedEvidence())
    with pytest.raises(CollectionMissing) as caught:
        agent.generate("Write add(a, b)", "ws", enable_rag=True)
    assert caught.value.exit_code == 5 and "`invoke rag.seed`" in caught.value.fix
    assert '"enable_rag": true' in caught.value.fix


# --- a fix changes the outcome: never "retry" (temperature 0 and the cache give the same code) --------
@pytest.mark.parametrize(("remedies", "present", "absent"), [
    (CLI_GENERATE, ["--min-score N", "--review", "--rag"], ["min_score", "auto_approve"]),
    (CLI_WORKFLOW, ["--min-score N"], ["--review", "--rag", "auto_approve"]),
    (API, ['"min_score": N in the body', '"auto_approve": false', '"enable_rag": true'], ["--"]),
])
def test_a_rejection_names_the_callers_own_flags_or_fields(tmp_path, remedies, present, absent):
    llm = ScriptedLLM([CODE, "Score (0-10): 3"], backend="anthropic")  # where the score gates
    agent = CodeGenerationAgent(settings=Settings(workspace_dir=tmp_path, approval_min_score=7),  # type: ignore[arg-type]
                                postgres_manager=LogTable(), llm_client=llm, remedies=remedies,
                                evidence=ScriptedEvidence())
    result = agent.generate("Write add(a, b)", "ws")
    assert result["approval_status"] == "rejected"
    fix = result["error_fix"]
    assert all(p in fix for p in present) and not any(a in fix for a in absent), fix
    assert "retry" not in fix and "reword the request" in fix


@pytest.mark.parametrize("script", [["no code here"], ["```python\ndef (:\n```", "```python\nstill (:\n```"],
                                    [CODE, "I like it"]], ids=["no-code-block", "invalid-twice", "no-score"])
def test_unusable_model_output_suggests_a_change_not_a_retry(tmp_path, script):
    agent, _, _ = _agent(tmp_path, script)
    result = agent.generate("Write add(a, b)", "ws")
    fix = result["error_fix"]
    assert fix.startswith("reword the request") and "retry" not in fix, fix
    assert "enable_rag=True" in fix and "LLM_BACKEND=anthropic" in fix  # Python caller, local backend


# --- evidence (devmatrix.evidence): it gates on every backend; failures go back to the model ---
def _evidenced(tmp_path: Path, llm_script: list, evidence_script: list, *, rounds: int = 2,
               backend: str = "local", **kwargs) -> tuple[GenerationResult, ScriptedLLM, ScriptedEvidence, LogTable]:
    llm, evidence, table = ScriptedLLM(llm_script, backend=backend), ScriptedEvidence(evidence_script), LogTable()
    agent = CodeGenerationAgent(settings=Settings(workspace_dir=tmp_path, approval_min_score=7.0,
                                                  evidence_repair_rounds=rounds),
                                postgres_manager=table, llm_client=llm, evidence=evidence)  # type: ignore[arg-type]
    return agent.generate("Write add(a, b)", "ws", **kwargs), llm, evidence, table


def test_on_the_local_backend_passing_evidence_commits_whatever_the_advisory_score(tmp_path):
    result, _, evidence, table = _evidenced(tmp_path, [CODE, "Score (0-10): 0"], [True])
    assert result["success"] is True and result["approval_status"] == "approved", result["error"]
    assert result["quality_score"] == 0 and result["score_advisory"] is True
    assert result["evidence_passed"] is True and [c["name"] for c in result["evidence"]] == ["ast", "import", "pytest"]
    assert _commits(tmp_path) == 1
    assert evidence.shown[0][1] == ["add.py"]
    metadata = json.loads(table.rows[0]["metadata"])
    assert metadata["evidence_passed"] is True and metadata["score_advisory"] is True


def test_on_the_paid_api_the_score_gates_too(tmp_path):
    result, _ = _generate(tmp_path, "3", backend="anthropic")
    assert result["approval_status"] == "rejected" and result["score_advisory"] is False
    assert result["evidence_passed"] is True and _commits(tmp_path) == 0


def test_failing_evidence_goes_back_to_the_model_with_its_output_and_the_repair_is_committed(tmp_path):
    repaired = "```python\ndef add(a: int, b: int) -> int:\n    return b + a\n```"
    result, llm, _, _ = _evidenced(tmp_path, [CODE, CODE, repaired, "Score (0-10): 9"],
                                   ["E   assert -1 == 5", "E   assert -1 == 5", True])
    assert result["success"] is True and result["approval_status"] == "approved", result["error"]
    assert result["evidence_repair_rounds"] == 2
    assert "assert -1 == 5" in llm.prompts[1] and "pytest of add.py failed" in llm.prompts[1]
    assert result["generated_code"] == "def add(a: int, b: int) -> int:\n    return b + a\n"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (40, 20)  # every round is counted


def test_evidence_still_failing_after_its_rounds_is_rejected_unreviewed_and_never_committed(tmp_path):
    result, llm, _, table = _evidenced(tmp_path, [CODE, CODE], ["TypeError", "TypeError"], rounds=1)
    assert result["success"] is False and result["approval_status"] == "rejected"
    assert result["error"].startswith("rejected: the evidence failed (pytest of add.py) after 1 repair round(s)")
    assert "devmatrix check" in result["error_fix"] and " — fix: " not in result["error"]
    assert result["quality_score"] is None and llm.script == []  # no review call was paid for
    assert Path(result["file_path"]).parent == tmp_path / "ws" / REVIEW_DIR / "rejected"
    assert _commits(tmp_path) == 0 and table.rows[0]["approval_status"] == "rejected"


def test_failing_evidence_waits_for_a_person_when_review_is_asked_for(tmp_path):
    result, _, _, _ = _evidenced(tmp_path, [CODE], ["TypeError"], rounds=0, auto_approve=False)
    assert result["success"] is True and result["approval_status"] == "pending_review"
    assert result["git_committed"] is False and _commits(tmp_path) == 0


def test_no_sandbox_fails_the_generation_saying_so_and_nothing_is_written(tmp_path):
    missing = SandboxUnavailable("bwrap (bubblewrap) is not installed", fix="apt-get install bubblewrap")
    result, _, _, _ = _evidenced(tmp_path, [CODE], [missing])
    assert result["success"] is False and "bwrap (bubblewrap) is not installed" in result["error"]
    assert result["file_written"] is False and _commits(tmp_path) == 0


def test_evidence_sees_the_workspace_s_files_but_checks_only_the_new_one(tmp_path):
    (tmp_path / "ws" / REVIEW_DIR / "rejected").mkdir(parents=True)
    (tmp_path / "ws" / "calc.py").write_text("def double(x):\n    return 2 * x\n")
    (tmp_path / "ws" / REVIEW_DIR / "rejected" / "old.py").write_text("broken(")
    _, _, evidence, _ = _evidenced(tmp_path, [CODE, "Score (0-10): 9"], [True])
    files, targets = evidence.shown[0]
    assert targets == ["add.py"] and files["add.py"].startswith("def add")
    assert files["calc.py"] == "def double(x):\n    return 2 * x\n"  # a test task can import it
    assert not any(name.startswith(REVIEW_DIR) for name in files)
