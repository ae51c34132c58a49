"""Code generation over HTTP: POST /generate (bearer token; runs as a job on the workers) and
GET /generations/{log_id}."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from devmatrix.agents.remedies import API
from devmatrix.agents.requests import require_rag_enabled
from devmatrix.agents.result import GenerationResult
from devmatrix.api._constants import API_PREFIX
from devmatrix.api.auth import require_token
from devmatrix.api.error_handlers import APIError
from devmatrix.api.schemas import ErrorBody, GenerateRequest, GenerationRecord
from devmatrix.errors import CircuitOpen, ServiceError
from devmatrix.jobs import SYNC_WAIT_S, WAIT_POLL_S
from devmatrix.jobs.outcome import failure_of, is_llm_outage
from devmatrix.jobs.submit import QueueWatch
from devmatrix.rag.store import require_examples
from devmatrix.state.postgres import MAX_LOG_ID  # code_generation_logs.id: a 4-byte SERIAL

router = APIRouter(prefix=API_PREFIX, tags=["generation"])
log = structlog.get_logger("devmatrix.api")
_ERRORS = {
    422: {"model": ErrorBody, "description": "the body or a parameter is invalid (the field is named)"},
    429: {"model": ErrorBody, "description": "busy, not down: every generation slot (or pooled Postgres"
                                             " connection) is in use; send it again after Retry-After"},
    503: {"model": ErrorBody, "description": "a service it needs is down, or the LLM breaker is open"},
}


@router.post("/generate", response_model=GenerationResult, dependencies=[Depends(require_token)],
             responses={401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
                        409: {"model": ErrorBody, "description": "enable_rag while the server has RAG_ENABLED=false,"
                                                                 " or its RAG collection was never seeded"},
                        400: {"model": ErrorBody, "description": "the body could not be read (not UTF-8)"},
                        413: {"model": ErrorBody, "description": "the body is over the limit"}, **_ERRORS},
             summary="Generate code for a request: LLM → checks → review → file → git → log row")
async def generate(body: GenerateRequest, request: Request) -> GenerationResult:
    """A job on the workers (as POST /jobs), waited for up to the generation deadline plus a queue
    wait: the API's threads never run a generation. A generation that ran but failed (e.g. the
    model wrote no valid code) is still 200, with ``success: false``, ``error``,
    ``error_fix`` and its ``log_id``;
    a dependency that is down (Postgres, the broker, every worker) is 503.
    At most API_MAX_CONCURRENT_GENERATIONS wait at once; one more is 429 with Retry-After, not started."""
    resources = request.app.state.resources
    status = resources.breaker_status()
    if _fenced_off(status):
        raise CircuitOpen(f"the LLM circuit breaker for {status['endpoint']} is open since"
                          f" {status['opened_at']} ({status['failures']} consecutive failures)",
                          fix="check the backend (`invoke infra.status`); POST"
                              " /api/v1/health/circuit-breaker/reset to retry now")
    with resources.generation_slots.hold(), \
            structlog.contextvars.bound_contextvars(workspace_id=body.workspace_id):
        job = await run_in_threadpool(_submit, resources, body)
        jobs = resources.jobs()
        deadline = time.monotonic() + SYNC_WAIT_S
        watch = QueueWatch(jobs)  # a job queued on a broker that stopped answering: 503 naming Redis
        # hand-written, not retry.poll: this waits in the event loop (asyncio.sleep); poll would block it
        while not job.finished and time.monotonic() < deadline:
            await asyncio.sleep(WAIT_POLL_S)
            current = await run_in_threadpool(jobs.store.get, job.job_id)
            if current is None:
                raise APIError(404, f"job {job.job_id} was deleted while it was waited for",
                               fix="submit the request again")
            job = current
            if queued := watch.due([job]):
                await run_in_threadpool(jobs.check_broker, queued)
    if job.result:
        resources.record_llm_outcome(None)  # the model answered (whatever it wrote)
        return GenerationResult.model_validate(job.result)
    if not job.finished:
        raise ServiceError("worker", f"job {job.job_id} did not finish within {SYNC_WAIT_S:g} s (it is {job.status})",
                           fix=f"it goes on: GET {API_PREFIX}/jobs/{job.job_id} for its result")
    failure = failure_of(job.job_id, job.status, job.error)
    if is_llm_outage(job.error):  # the worker's LLM call failed: this API's breaker counts it
        resources.record_llm_outcome(failure)
    raise failure


def _submit(resources, body: GenerateRequest):
    """Refuse here what a worker would refuse (RAG the stack cannot serve: 409), then submit."""
    if body.enable_rag:
        require_rag_enabled(resources.settings, API.rag)
        require_examples(resources.settings, asked_by=API.rag)
    jobs = resources.jobs()
    jobs.require_workers()  # else the request would wait its whole deadline for nothing
    return jobs.submit(body.model_dump(), caller="api")


def _fenced_off(status: dict) -> bool:
    """Open and still inside its reset timeout; after it, the breaker lets one trial call through."""
    if status["state"] != "open" or status["opened_at"] is None:
        return False
    opened = datetime.fromisoformat(str(status["opened_at"]))
    return (datetime.now(UTC) - opened).total_seconds() < float(status["reset_timeout_s"])


@router.get("/generations/{log_id}", response_model=GenerationRecord,
            dependencies=[Depends(require_token)],  # the row holds the request text and the code
            responses={401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
                       404: {"model": ErrorBody, "description": "no generation has this id"}, **_ERRORS},
            summary="One logged generation (a row of code_generation_logs)")
def generation(log_id: Annotated[int, Path(ge=1, le=MAX_LOG_ID)], request: Request) -> GenerationRecord:
    row = request.app.state.resources.postgres().get_generation(log_id)
    if row is None:
        raise APIError(404, f"no generation with id {log_id}",
                       fix="use the log_id returned by POST /api/v1/generate")
    return GenerationRecord.model_validate(row)
