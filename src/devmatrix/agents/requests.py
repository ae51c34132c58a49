"""What a generation request must be, checked where it arrives (the CLI, the API) and again by
the agent. Light on purpose: a caller checks a request without loading the agent stack, whose
LLM SDK alone takes 1-4 s to import (the API's start-up, docs/benchmarks.md "phase1")."""

from __future__ import annotations

from devmatrix.config import Settings
from devmatrix.errors import RAGDisabled

MAX_REQUEST_CHARS = 20_000


def require_rag_enabled(settings: Settings, asked_by: str) -> None:
    """Retrieval asked for (``asked_by``: the caller's own flag) on a stack with RAG_ENABLED=false."""
    if not settings.rag_enabled:
        raise RAGDisabled(f"retrieval was asked for ({asked_by}) but RAG_ENABLED=false",
                          fix=f"set RAG_ENABLED=true in .env.test and `invoke rag.seed`, or ask without {asked_by}")
