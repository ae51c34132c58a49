"""Backpressure: the API runs a bounded number of generations; one more is a 429, at once.

A generation holds an LLM server slot for its whole run, and the local server has
LOCAL_PARALLEL_SLOTS of them. More generations than the backend serves at once only
queue in front of it, each holding a worker thread (and, before, a pooled Postgres
connection), and a request that waits too long for a slot times out as a false "llm"
outage. So the API admits API_MAX_CONCURRENT_GENERATIONS and answers the rest
``429 Too Many Requests`` with ``Retry-After`` (ServiceBusy), and its Postgres pool is
sized from the same number (resources.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from devmatrix.api._constants import GENERATION_RETRY_AFTER_S
from devmatrix.config import Settings
from devmatrix.errors import ServiceBusy
from devmatrix.llm.slots import generation_limit
from devmatrix.monitoring.metrics import API_GENERATIONS_REFUSED, API_GENERATIONS_RUNNING

__all__ = ["GenerationSlots", "generation_limit"]


def _limit_source(settings: Settings, limit: int) -> str:
    if settings.api_max_concurrent_generations is not None:
        return f"API_MAX_CONCURRENT_GENERATIONS={limit}"
    return (f"API_MAX_CONCURRENT_GENERATIONS is empty: {limit}, what the"
            f" {settings.resolved_llm_backend} LLM backend serves at once")


class GenerationSlots:
    """``limit`` permits; ``hold()`` takes one for a generation or raises ServiceBusy."""

    def __init__(self, limit: int, *, source: str | None = None) -> None:
        if limit < 1:
            raise ValueError(f"limit={limit}: the API must be able to run one generation")
        self.limit = limit
        self.source = source or f"limit {limit}"
        self._permits = threading.BoundedSemaphore(limit)

    @classmethod
    def for_settings(cls, settings: Settings) -> GenerationSlots:
        limit = generation_limit(settings)
        return cls(limit, source=_limit_source(settings, limit))

    @contextmanager
    def hold(self) -> Iterator[None]:
        """One slot for the block inside; ServiceBusy at once when every slot is taken.

        Fail fast, never wait: a slot frees only when a generation ends (5-30 s, up to the
        180 s deadline), so a wait short enough to be harmless would seldom get one, and a
        longer one would hold the client's connection and a worker thread in a queue the
        client cannot see. A 429 with Retry-After lets the client decide.
        """
        if not self._permits.acquire(blocking=False):
            API_GENERATIONS_REFUSED.inc()
            raise ServiceBusy(
                "api", f"busy: all {self.limit} generation slots are in use ({self.source});"
                       " this request was not started",
                retry_after_s=GENERATION_RETRY_AFTER_S,
                fix=f"send it again after the Retry-After ({GENERATION_RETRY_AFTER_S} s); every service is"
                    " healthy, nothing needs a restart. To run more at once, raise"
                    " API_MAX_CONCURRENT_GENERATIONS only as far as the LLM backend serves in parallel")
        API_GENERATIONS_RUNNING.inc()
        try:
            yield
        finally:
            API_GENERATIONS_RUNNING.dec()
            self._permits.release()
