"""What a worker runs for one message: the job it names, at most once in effect.

The agent stack lives here (the anthropic SDK, the agents, RAG's client): seconds of imports that
a worker loads with its first job (tasks.py), never at its start.

The message carries the job id only; the request is the job's row. ``claim`` counts the
delivery in Postgres (bounded: MAX_ATTEMPTS), the agent runs with the job id as its
generation id (one commit, found by its ``Generation-Id:`` trailer; one log row, an
idempotent insert), and every LLM reply is kept, so a retry pays for none twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog
from billiard.exceptions import SoftTimeLimitExceeded

from devmatrix.agents.codegen import CodeGenerationAgent
from devmatrix.agents.remedies import API, CLI_GENERATE, CLI_WORKFLOW
from devmatrix.config import Settings
from devmatrix.jobs._constants import SOFT_TIME_LIMIT_S
from devmatrix.jobs.outcome import error_of
from devmatrix.jobs.replies import PaidReplies
from devmatrix.jobs.store import JobStore
from devmatrix.llm import AnthropicClient, create_llm_client
from devmatrix.rag.retriever import Retriever, create_retriever
from devmatrix.state.postgres import PostgresManager
from devmatrix.state.redis import RedisManager

log = structlog.get_logger("devmatrix.jobs")
_REMEDIES = {"api": API, "cli": CLI_GENERATE, "workflow": CLI_WORKFLOW}


class WorkerContext:
    """One pool process's clients, built on first use (after the fork, never before), and closed
    with the process: one Postgres pool, one LLM client over one Redis connection, one retriever."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pid = 0
        self._postgres: PostgresManager | None = None
        self._redis: RedisManager | None = None
        self._llm: AnthropicClient | None = None
        self._retriever: Retriever | None = None

    def _fresh(self) -> None:
        """A forked pool process never uses its parent's sockets: it builds its own."""
        if self._pid != os.getpid():
            self._postgres = self._redis = self._llm = self._retriever = None
            self._pid = os.getpid()

    def postgres(self) -> PostgresManager:
        self._fresh()
        if self._postgres is None:
            self._postgres = PostgresManager(settings=self.settings)
        return self._postgres

    def llm(self) -> AnthropicClient:
        self._fresh()
        if self._llm is None:
            self._redis = self._redis or RedisManager(settings=self.settings)
            self._llm = create_llm_client(self.settings, redis_manager=self._redis)
        return self._llm

    def retriever(self) -> Retriever:
        """Built on the first `enable_rag` job (the embedding model loads only where it is used),
        with its embedding model loaded here, before the generation's deadline starts: importing
        torch and loading the model is a pool process's one-time cost (5-40 s on a busy 2-core
        machine), not the generation's time. Loaded inside the generation, it took that time from
        the model calls' budget (a RAG job on a loaded machine ran out of its deadline on its last
        model call: a stress run of 765203c)."""
        self._fresh()
        if self._retriever is None:
            retriever = create_retriever(settings=self.settings)
            retriever.embedding_model.load()
            self._retriever = retriever
        return self._retriever


def run_job(context: WorkerContext, job_id: str, node: str) -> str:
    """Run one delivery of ``job_id`` on ``node``; the status it left the job in ("failed" for a
    delivery past the attempt bound too, which fails the job), or why it ran nothing."""
    store = JobStore(context.postgres())
    claim = store.claim(job_id, node)
    if claim.job is None:
        log.info("job_skipped", job_id=job_id, worker=node, reason=claim.skip)
        return "failed" if claim.gave_up else f"skipped: {claim.skip}"
    job, body = claim.job, claim.job.request
    log.info("job_started", job_id=job_id, worker=node, attempt=job.attempts)
    try:  # building the clients is inside: a store down while they connect fails the job, never strands it
        llm = PaidReplies(context.llm(), store, job_id)
        agent = CodeGenerationAgent(settings=context.settings, postgres_manager=context.postgres(),
                                    enable_cache=body.get("use_cache", True), llm_client=llm,
                                    retriever=context.retriever() if body.get("enable_rag") else None,
                                    remedies=_REMEDIES.get(body.get("caller", "api"), API))
        # the CLI's jobs name its WORKSPACE_DIR (the API's never do: its body has no such field)
        base_path = str(Path(body["workspace_dir"]) / body["workspace_id"]) if body.get("workspace_dir") else None
        generated = agent.generate(body["request"], body["workspace_id"], git_enabled=body.get("git_enabled", True),
                                   auto_approve=body.get("auto_approve", True),
                                   enable_rag=body.get("enable_rag", False), min_score=body.get("min_score"),
                                   base_path=base_path, generation_id=job_id)
    except SoftTimeLimitExceeded:
        error = {**error_of(TimeoutError()), "service": "worker", "http_status": 504,
                 "message": f"job {job_id} ran past its soft time limit ({SOFT_TIME_LIMIT_S:g} s)"}
        store.finish(job_id, "failed", error=error)
        return "failed"
    except Exception as error:  # noqa: BLE001 - the job records every way it ended; the message is done
        store.finish(job_id, "failed", error=error_of(error))
        log.warning("job_failed", job_id=job_id, worker=node, error=str(error))
        return "failed"
    # the job keeps the GenerationResult as JSON, with which job it was and the replies it reused
    kept = {**generated.model_dump(mode="json"), "job_id": job_id, "llm_replies_reused": llm.reused}
    status = "succeeded" if generated.success else "failed"
    if not store.finish(job_id, status, result=kept):
        log.info("job_result_dropped", job_id=job_id, reason="no longer running (cancelled)")
    log.info("job_finished", job_id=job_id, worker=node, status=status, attempt=job.attempts)
    return status
