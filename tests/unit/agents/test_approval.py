"""The gate's rule (evidence, and the score where it counts), and how every report states it."""

from __future__ import annotations

import pytest

from devmatrix.agents.approval import Approval, decide, gate_line, score_gates
from devmatrix.config import Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("score", "auto_approve", "expected"), [
    (7.0, True, Approval.APPROVED), (7.0, False, Approval.APPROVED),
    (6.9, True, Approval.REJECTED), (6.9, False, Approval.PENDING_REVIEW),
    (0.0, True, Approval.REJECTED),
])
def test_where_the_score_counts_the_gate_approves_at_or_above_it_only(score, auto_approve, expected):
    assert decide(score, 7.0, auto_approve=auto_approve) is expected


@pytest.mark.parametrize(("score", "auto_approve", "evidence_passed", "score_counts", "expected"), [
    (10.0, True, False, True, Approval.REJECTED),  # a perfect score never outweighs failing evidence
    (10.0, False, False, True, Approval.PENDING_REVIEW),
    (0.0, True, True, False, Approval.APPROVED),  # an advisory score never blocks passing evidence
    (None, True, True, False, Approval.APPROVED),
    (0.0, True, False, False, Approval.REJECTED),
])
def test_evidence_always_gates_and_the_score_only_where_it_counts(score, auto_approve, evidence_passed,
                                                                  score_counts, expected):
    assert decide(score, 7.0, auto_approve=auto_approve, evidence_passed=evidence_passed,
                  score_counts=score_counts) is expected


def test_only_the_paid_api_s_score_counts():
    assert score_gates("anthropic") and not score_gates("local") and not score_gates(None)


def test_the_gate_line_names_the_settings_and_says_the_local_score_is_advisory():
    local = gate_line(Settings(llm_backend="local", approval_min_score=6.5, evidence_repair_rounds=3))
    assert local.startswith("review gate: commit when the evidence passes (EVIDENCE_REPAIR_ROUNDS=3)")
    assert "(≥ 6.5/10 asked) is advisory" in local and "not a trustworthy review" in local
    paid = gate_line(Settings(llm_backend="anthropic", anthropic_api_key="sk-ant-x"))
    assert "and at score ≥ 7/10 (APPROVAL_MIN_SCORE, --min-score)" in paid and "advisory" not in paid
