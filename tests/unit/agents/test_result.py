"""GenerationResult: one type for the agent, the API answer, the log row and the CLI."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest
from pydantic import ValidationError

from devmatrix.agents.result import LOG_COLUMNS, GenerationResult
from devmatrix.errors import LLMError
from devmatrix.evidence import CheckResult

pytestmark = pytest.mark.unit


def _result(**extra) -> GenerationResult:
    return GenerationResult(workspace_id="ws", approval_min_score=7.0, **extra)


def test_each_check_reaches_the_answer_with_the_gate_s_facts():
    result = _result()
    result.evidence = [CheckResult("pytest", "add.py", False, "E   assert -1 == 5", 0.4, limits_hit=("wall",))]
    result.evidence_passed, result.evidence_repair_rounds, result.score_advisory = False, 2, True
    answer = result.model_dump()
    assert answer["evidence"] == [{"name": "pytest", "target": "add.py", "passed": False,
                                   "output": "E   assert -1 == 5", "seconds": 0.4, "skipped": False,
                                   "limits_hit": ["wall"]}]
    assert answer["evidence_passed"] is False and answer["evidence_repair_rounds"] == 2
    assert answer["score_advisory"] is True


def test_a_generation_that_stopped_before_its_evidence_has_none():
    answer = _result().model_dump()
    assert answer["evidence"] == [] and answer["evidence_passed"] is None


def test_an_error_keeps_its_message_and_its_fix_apart():
    result = _result()
    result.fail(LLMError("the model's reply has no ```python code block", fix="reword the request"))
    assert (result.success, result.error, result.error_fix) == (
        False, "the model's reply has no ```python code block", "reword the request")
    assert result.error_line == "the model's reply has no ```python code block — fix: reword the request"
    assert _result(error="no fix known").error_line == "no fix known" and _result().error_line is None


def test_the_seed_reads_it_as_a_dict():
    result = _result(success=True)
    result.add_usage(10, 5, 0.25)
    result.add_usage(1, 1, 0.000_000_4)
    assert result["success"] is True and result["usage"]["input_tokens"] == 11
    assert result["cost_usd"] == 0.25  # rounded to the micro-dollar, as the log's NUMERIC(12, 6)
    assert result.get("logging_error") is None and result.get("no_such_key", "x") == "x"
    with pytest.raises(KeyError):
        result["no_such_key"]


def test_assignments_are_checked_like_construction():
    result = _result()
    with pytest.raises(ValidationError):
        result.approval_status = "maybe"  # type: ignore[assignment]


def test_the_log_row_is_every_field_each_in_its_column_or_the_metadata():
    result = _result(success=True, approval_status="approved", rag_example_ids=["fib-1"], rag_examples=1,
                     error=None, cache_hit=True)
    result.add_usage(12, 34, 0.5)
    row = result.log_row("Write fib")
    assert row["user_request"] == "Write fib" and (row["input_tokens"], row["output_tokens"]) == (12, 34)
    assert all(row[column] == result[column] for column in LOG_COLUMNS)
    metadata = json.loads(row["metadata"])
    assert metadata["rag_example_ids"] == ["fib-1"] and metadata["cache_hit"] is True
    # every field is logged somewhere, but the row's own id and whether it could be written
    logged = set(LOG_COLUMNS) | set(metadata) | {"usage"}
    assert set(GenerationResult.model_fields) - logged == {"log_id", "logging_error"}
    assert not set(LOG_COLUMNS) & set(metadata)


def test_every_log_column_exists_in_the_schema():
    schema = "".join(f.read_text() for f in sorted((resources.files("devmatrix.state") / "migrations").iterdir(),
                                                   key=lambda f: f.name) if f.name.endswith(".sql"))
    table = re.search(r"CREATE TABLE IF NOT EXISTS code_generation_logs \((.*?)\n\);", schema, flags=re.DOTALL)
    assert table is not None
    declared = set(re.findall(r"^    (\w+) ", table.group(1), flags=re.MULTILINE))
    declared |= set(re.findall(r"ALTER TABLE code_generation_logs ADD COLUMN IF NOT EXISTS (\w+) ", schema))
    assert set(_result().log_row("x")) - declared == set()
