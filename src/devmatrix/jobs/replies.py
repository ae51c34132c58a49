"""PaidReplies: an LLM client that keeps every reply a job paid for, and reuses it on a retry.

A worker killed after the model answered leaves that reply in ``job_llm_replies``; the
next attempt of the same job makes the same calls in the same order (temperature 0, the
same prompt), so call N with the same inputs is served from Postgres and paid once.
A call whose inputs differ from the stored one is sent (and stored over it).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, replace
from typing import Any

import structlog

from devmatrix.jobs.store import JobStore, prompt_key
from devmatrix.llm.client import LLMResult

log = structlog.get_logger("devmatrix.jobs")


class PaidReplies:
    def __init__(self, client: Any, store: JobStore, job_id: str) -> None:
        self._client = client
        self._store = store
        self._job_id = job_id
        self._seq = 0
        self._lock = threading.Lock()
        self.reused = 0

    def __getattr__(self, name: str) -> Any:  # everything but complete() is the client's
        return getattr(self._client, name)

    def complete(self, messages: list[dict] | str, **kwargs: Any) -> LLMResult:
        with self._lock:
            self._seq += 1
            seq = self._seq
        key = prompt_key(messages, kwargs.get("system"), kwargs.get("max_tokens"), kwargs.get("temperature"))
        kept = self._store.paid_reply(self._job_id, seq, key)
        if kept is not None:
            self.reused += 1
            log.info("llm_reply_reused", job_id=self._job_id, seq=seq)
            return replace(LLMResult(**kept), latency_s=0.0)
        reply = self._client.complete(messages, **kwargs)
        self._store.keep_reply(self._job_id, seq, key, asdict(reply))
        return reply
