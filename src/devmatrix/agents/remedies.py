"""The fixes a failed generation suggests, in the words of the surface that asked for it.

Asking again does not help: every call runs at temperature 0 (the local backend is then
deterministic, the paid one nearly so) and an identical call is served from the LLM cache.
So a fix names what changes the outcome: other words, retrieved examples, a lower gate, a
person's review, a stronger model. Each surface spells these its own way: `devmatrix
generate` has flags, `devmatrix workflow` only --min-score, the HTTP API body fields, and
Python callers (the seed's tests) keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from devmatrix.config import Settings


@dataclass(frozen=True)
class Remedies:
    """How one surface lowers the gate, asks for a person's review and adds retrieved examples
    (None: it cannot)."""

    min_score: str
    review: str | None
    rag: str | None

    def rejected(self, settings: Settings, *, used_rag: bool) -> str:
        """The fix for code the review gate rejected (kept for reading, not committed)."""
        ways = ["read it and commit it yourself", f"lower the gate for this request ({self.min_score})"]
        if self.review:
            ways.append(f"ask for a person's review instead ({self.review})")
        return _listed(ways + self._changes(settings, used_rag=used_rag))

    def evidence_failed(self, settings: Settings, *, used_rag: bool, path: object) -> str:
        """The fix for code whose evidence still failed after its repair rounds: no gate to lower."""
        ways = [f"read what failed (`devmatrix check {path}`, or the result's evidence)"]
        if self.review:
            ways.append(f"ask for a person's review instead ({self.review})")
        return _listed(ways + self._changes(settings, used_rag=used_rag))

    def bad_output(self, settings: Settings, *, used_rag: bool) -> str:
        """The fix for a reply the pipeline could not use (no code block, invalid code, no score)."""
        return _listed(self._changes(settings, used_rag=used_rag))

    def _changes(self, settings: Settings, *, used_rag: bool) -> list[str]:
        ways = ["reword the request (the same words get the same answer: asking again does not help)"]
        if self.rag and not used_rag and settings.rag_enabled:
            ways.append(f"ground it in retrieved examples ({self.rag})")
        if settings.resolved_llm_backend == "local":
            ways.append("use a stronger model (ANTHROPIC_API_KEY, LLM_BACKEND=anthropic)")
        return ways


def _listed(ways: list[str]) -> str:
    return ", ".join(ways[:-1]) + f", or {ways[-1]}" if len(ways) > 1 else ways[0]


PYTHON = Remedies(min_score="min_score=N", review="auto_approve=False", rag="enable_rag=True")
CLI_GENERATE = Remedies(min_score="--min-score N", review="--review", rag="--rag")
CLI_WORKFLOW = Remedies(min_score="--min-score N", review=None, rag=None)
API = Remedies(min_score='"min_score": N in the body', review='"auto_approve": false in the body',
               rag='"enable_rag": true in the body')
