"""The API answer carries the generation's evidence as the agent returned it."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from devmatrix.api.schemas import GenerateResult
from devmatrix.evidence import CheckResult

pytestmark = pytest.mark.unit


def _result(**extra) -> dict:
    return {"log_id": 1, "success": True, "approval_status": "approved", "approval_min_score": 7.0,
            "file_written": True, "file_path": "ws/add.py", "generated_code": "def add(): ...",
            "quality_score": 2.0, "git_committed": True, "git_commit_hash": "a" * 40, "error": None,
            "usage": {"input_tokens": 1, "output_tokens": 1}, "cost_usd": 0.0, "latency_s": 1.0,
            "model": "m", "backend": "local", "cache_hit": False, "rag_examples": 0, "rag_example_ids": [],
            "workspace_id": "ws", **extra}


def test_each_check_reaches_the_answer_with_the_gate_s_facts():
    checks = [asdict(CheckResult("pytest", "add.py", False, "E   assert -1 == 5", 0.4, limits_hit=("wall",)))]
    answer = GenerateResult.from_agent(_result(evidence=checks, evidence_passed=False, evidence_repair_rounds=2,
                                               score_advisory=True)).model_dump()
    assert answer["evidence"] == [{"name": "pytest", "target": "add.py", "passed": False,
                                   "output": "E   assert -1 == 5", "seconds": 0.4, "skipped": False,
                                   "limits_hit": ["wall"]}]
    assert answer["evidence_passed"] is False and answer["evidence_repair_rounds"] == 2
    assert answer["score_advisory"] is True


def test_a_generation_that_stopped_before_its_evidence_has_none():
    answer = GenerateResult.from_agent(_result()).model_dump()
    assert answer["evidence"] == [] and answer["evidence_passed"] is None
