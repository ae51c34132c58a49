"""Code generation over HTTP: POST /generate (bearer token) and GET /generations/{log_id}."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from devmatrix.agents.codegen import CodeGenerationAgent
from devmatrix.agents.remedies import API
from devmatrix.agents.result import GenerationResult
from devmatrix.api._constants import API_PREFIX, MAX_LOG_ID
from devmatrix.api.auth import require_token
from devmatrix.api.error_handlers import APIError
from devmatrix.api.schemas import ErrorBody, GenerateRequest, GenerationRecord
from devmatrix.errors import CircuitOpen

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
                        413: {"model": ErrorBody, "description": "the body is over the limit"}, **_ERRORS},
             summary="Generate code for a request: LLM → checks → review → file → git → log row")
async def generate(body: GenerateRequest, request: Request) -> GenerationResult:
    """Runs CodeGenerationAgent (blocking) in a worker thread. A generation that ran but failed
    (e.g. the model wrote no valid code) is still 200, with ``success: false``, ``error``,
    ``error_fix`` and its ``log_id``; a dependency that is down (Postgres; Redis when the response cache is on) is 503.
    At most API_MAX_CONCURRENT_GENERATIONS run at once; one more is 429 with Retry-After, not started."""
    resources = request.app.state.resources
    status = resources.breaker_status()
    if _fenced_off(status):
        raise CircuitOpen(f"the LLM circuit breaker for {status['endpoint']} is open since"
                          f" {status['opened_at']} ({status['failures']} consecutive failures)",
                          fix="check the backend (`invoke infra.status`); POST"
                              " /api/v1/health/circuit-breaker/reset to retry now")
    # run_in_threadpool is not abandoned when the request is cancelled: the slot is given
    # back only when the generation's thread has finished
    with resources.generation_slots.hold(), \
            structlog.contextvars.bound_contextvars(workspace_id=body.workspace_id):
        result = await run_in_threadpool(_run_agent, resources, body)
    return result


def _fenced_off(status: dict) -> bool:
    """Open and still inside its reset timeout; after it, the breaker lets one trial call through."""
    if status["state"] != "open" or status["opened_at"] is None:
        return False
    opened = datetime.fromisoformat(str(status["opened_at"]))
    return (datetime.now(UTC) - opened).total_seconds() < float(status["reset_timeout_s"])


def _run_agent(resources, body: GenerateRequest) -> GenerationResult:
    """Blocking: connect (first use), then the whole pipeline; runs in a worker thread.
    The answer's ``log_id`` is its row: with Postgres down the API fails at once (503) rather
    than spend a generation it cannot log (the CLI still returns one, with ``logging_error``)."""
    postgres = resources.postgres()
    postgres.execute("SELECT 1")
    agent = CodeGenerationAgent(settings=resources.settings, postgres_manager=postgres,
                                enable_cache=body.use_cache,
                                llm_client=resources.llm(),
                                retriever=resources.retriever() if body.enable_rag else None, remedies=API)
    return agent.generate(body.request, body.workspace_id, git_enabled=body.git_enabled,
                          auto_approve=body.auto_approve, enable_rag=body.enable_rag,
                          min_score=body.min_score)


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
