"""The review gate: what a review score lets through.

"Reviewed" means exactly this: a second LLM call scores the code 0–10 (review.py),
and only code scoring at least ``APPROVAL_MIN_SCORE`` is committed as approved.
Below it the code is still written, under the workspace's ``.devmatrix-review/``
folder (never committed), so a person can read it:

- ``rejected`` when the gate decides alone (``auto_approve``, the default): the
  generation fails, naming the score and the gate;
- ``pending_review`` when review by a person is asked for (``--review``,
  ``auto_approve=False``): the generation ran, and waits for that person.

The score is only as good as the model that gives it: SmolLM2-135M (the local
backend) scores almost at random, so every report on that backend prints the gate.
"""

from __future__ import annotations

from enum import StrEnum

from devmatrix.config import Settings


class Approval(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    PENDING_REVIEW = "pending_review"


def decide(score: float, min_score: float, *, auto_approve: bool) -> Approval:
    """Approved at or above ``min_score``; below it, rejected, or pending when a person reviews."""
    if score >= min_score:
        return Approval.APPROVED
    return Approval.REJECTED if auto_approve else Approval.PENDING_REVIEW


def gate_line(settings: Settings, min_score: float | None = None) -> str:
    """The gate as every report states it; on the local backend, with why it is weak."""
    score = settings.approval_min_score if min_score is None else min_score
    line = f"review gate: commit at score ≥ {score:g}/10 (APPROVAL_MIN_SCORE, --min-score)"
    if settings.resolved_llm_backend == "local":
        line += "; local backend: a 135M model's score, not a trustworthy review"
    return line
