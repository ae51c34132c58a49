"""The gate: what evidence and a review score let through.

"Approved" means exactly this. The code's evidence passed (devmatrix.evidence): it parses,
ruff finds no error-class problem (undefined names, syntax), it imports, and the tests that
came with it pass, the last two run inside the bubblewrap sandbox. Failing evidence went
back to the model for at most EVIDENCE_REPAIR_ROUNDS repairs first. And, on the paid API,
a second LLM call (review.py) scored it at least ``APPROVAL_MIN_SCORE``. On the local
backend that score is printed but advisory: SmolLM2-135M scores almost at random.

Code that does not pass is still written, under the workspace's ``.devmatrix-review/``
folder (never committed), so a person can read it (and `devmatrix check` it):

- ``rejected`` when the gate decides alone (``auto_approve``, the default): the
  generation fails, naming the failed evidence or the score and the gate;
- ``pending_review`` when review by a person is asked for (``--review``,
  ``auto_approve=False``): the generation ran, and waits for that person.

Either way the result's ``file_written`` is True and ``file_path`` names that copy
(``.devmatrix-review/<status>/<file>``); only approved code is written into the
workspace itself, and only approved code is committed.
"""

from __future__ import annotations

from enum import StrEnum

from devmatrix.config import Settings

# Backends whose review score means something, so it gates; elsewhere it is advisory.
SCORE_GATES = frozenset({"anthropic"})


class Approval(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    PENDING_REVIEW = "pending_review"


def score_gates(backend: str | None) -> bool:
    return backend in SCORE_GATES


def decide(score: float | None, min_score: float, *, auto_approve: bool, evidence_passed: bool = True,
           score_counts: bool = True) -> Approval:
    """Approved when the evidence passed and (where the score counts) the score is at least
    ``min_score``; otherwise rejected, or pending when a person reviews."""
    if evidence_passed and (not score_counts or (score is not None and score >= min_score)):
        return Approval.APPROVED
    return Approval.REJECTED if auto_approve else Approval.PENDING_REVIEW


def gate_line(settings: Settings, min_score: float | None = None) -> str:
    """The gate as every report states it; on the local backend, why its score is advisory."""
    score = settings.approval_min_score if min_score is None else min_score
    rounds = f"EVIDENCE_REPAIR_ROUNDS={settings.evidence_repair_rounds}"
    if score_gates(settings.resolved_llm_backend):
        return (f"review gate: commit when the evidence passes ({rounds}) and at score ≥ {score:g}/10"
                " (APPROVAL_MIN_SCORE, --min-score)")
    return (f"review gate: commit when the evidence passes ({rounds}); local backend: the review score"
            f" (≥ {score:g}/10 asked) is advisory, a 135M model's score is not a trustworthy review")
