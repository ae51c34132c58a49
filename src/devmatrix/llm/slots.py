"""How many generations run at once: what the LLM backend serves, or API_MAX_CONCURRENT_GENERATIONS.

A module of its own, without the SDK: the registry reads it (each worker's concurrency,
jobs/service.py) and so does every `invoke` start.
"""

from __future__ import annotations

from devmatrix.config import Settings
from devmatrix.llm._constants import ANTHROPIC_CONCURRENT_GENERATIONS, LOCAL_PARALLEL_SLOTS


def generation_limit(settings: Settings) -> int:
    """Generations at once: API_MAX_CONCURRENT_GENERATIONS, or (empty) what the LLM backend serves at
    once. The API admits this many (api/slots.py); each worker runs this many (jobs/service.py)."""
    if settings.api_max_concurrent_generations is not None:
        return settings.api_max_concurrent_generations
    if settings.resolved_llm_backend == "local":
        return LOCAL_PARALLEL_SLOTS
    return ANTHROPIC_CONCURRENT_GENERATIONS
