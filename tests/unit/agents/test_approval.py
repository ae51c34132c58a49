"""The review gate's rule, and how every report states it."""

from __future__ import annotations

import pytest

from devmatrix.agents.approval import Approval, decide, gate_line
from devmatrix.config import Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("score", "auto_approve", "expected"), [
    (7.0, True, Approval.APPROVED), (7.0, False, Approval.APPROVED),
    (6.9, True, Approval.REJECTED), (6.9, False, Approval.PENDING_REVIEW),
    (0.0, True, Approval.REJECTED),
])
def test_the_gate_approves_at_or_above_the_score_only(score, auto_approve, expected):
    assert decide(score, 7.0, auto_approve=auto_approve) is expected


def test_the_gate_line_names_the_setting_and_warns_on_the_local_backend():
    local = gate_line(Settings(llm_backend="local", approval_min_score=6.5))
    assert "score ≥ 6.5/10 (APPROVAL_MIN_SCORE, --min-score)" in local
    assert "not a trustworthy review" in local
    paid = gate_line(Settings(llm_backend="anthropic", anthropic_api_key="sk-ant-x"))
    assert "≥ 7/10" in paid and "trustworthy" not in paid
