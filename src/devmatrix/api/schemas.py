"""Request and response bodies: what the OpenAPI schema promises, and pydantic enforces."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from devmatrix.agents.requests import MAX_REQUEST_CHARS
from devmatrix.agents.result import GenerationResult

# The same rule as WorkspaceManager's, so a bad id is a 422 here, not a failed generation.
WORKSPACE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


class FieldProblem(BaseModel):
    field: str = Field(description="where the problem is, e.g. body.workspace_id")
    message: str
    type: str


class ErrorBody(BaseModel):
    """Every error the API returns: what failed, how to fix it, and the request id for the logs."""

    error: str = Field(description="a short code: not_found, unauthorized, validation_failed, …")
    message: str
    fix: str | None = None
    service: str | None = Field(default=None, description="on 503: the service that is down or frozen")
    request_id: str | None = None
    fields: list[FieldProblem] = Field(default_factory=list)


class Live(BaseModel):
    status: Literal["ok"] = "ok"
    service: str = "devmatrix-api"
    version: str


class CheckOutcome(BaseModel):
    ok: bool
    detail: str = Field(description="the server's version when ok, else what did not answer and the fix")
    seconds: float


class Ready(BaseModel):
    status: Literal["ready", "not_ready"]
    failed: list[str] = Field(description="the names of the checks that failed (empty when ready)")
    checks: dict[str, CheckOutcome]


class BreakerStatus(BaseModel):
    endpoint: str
    state: Literal["closed", "half-open", "open"]
    failures: int
    opened_at: datetime | None
    fail_max: int
    reset_timeout_s: float


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"request": "Write a function fibonacci(n) with memoization", "workspace_id": "demo"}]})

    # No NUL (U+0000) anywhere: Postgres stores no NUL in text or JSON (a job's body is JSONB), and
    # a request holding one was a 503 naming Postgres; the pattern says so in the OpenAPI schema too.
    request: Annotated[str, Field(min_length=1, max_length=MAX_REQUEST_CHARS, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$",
                                  description="what code to generate (not only whitespace; no NUL character)")]
    workspace_id: Annotated[str, Field(pattern=WORKSPACE_ID_PATTERN,
                                       description="the workspace (a git repository under WORKSPACE_DIR)")]
    git_enabled: bool = Field(default=True, strict=True, description="commit the written file")
    auto_approve: bool = Field(default=True, strict=True, description=(
        "true: the review gate decides alone, and code scoring below min_score is `rejected`"
        " (success false); false: it is `pending_review` for a person. Either way code below the"
        " gate is written under the workspace's .devmatrix-review/ and never committed"))
    min_score: float | None = Field(default=None, ge=0, le=10, strict=True, description=(
        "review score (0-10) needed to commit; null: the server's APPROVAL_MIN_SCORE"))
    enable_rag: bool = Field(default=False, strict=True, description="add retrieved examples to the prompt")
    use_cache: bool = Field(default=True, strict=True,
                            description="serve an identical earlier LLM call from the Redis cache")

    @field_validator("workspace_id")
    @classmethod
    def _no_parent_reference(cls, value: str) -> str:
        if ".." in value:
            raise ValueError("must not contain '..' (a workspace cannot point outside WORKSPACE_DIR)")
        return value


class GenerationRecord(BaseModel):
    """One row of code_generation_logs (its ``id`` column is ``log_id`` here, as everywhere)."""

    log_id: int = Field(validation_alias="id")
    timestamp: datetime
    workspace_id: str | None
    user_request: str | None
    generated_code: str | None
    approval_status: str | None
    quality_score: float | None
    metadata: dict[str, Any]
    success: bool | None
    error: str | None = Field(description="what failed; null on success")
    error_fix: str | None = Field(default=None, description="what to do about it (null in rows logged before"
                                                            " it had a column of its own: their fix is in error)")
    model: str | None
    backend: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    latency_s: float | None
    file_path: str | None
    git_commit_hash: str | None


class JobAccepted(BaseModel):
    """POST /jobs: the job is queued; GET its Location for the rest."""

    job_id: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobView(BaseModel):
    """One job (a row of ``jobs``): ``result`` is the generation's, once it ran; ``error`` when the job
    ended without one (a service down, its attempts spent, cancelled while it ran)."""

    job_id: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    worker: str | None = Field(description="the Celery node that ran it last")
    attempts: int = Field(description="deliveries so far (a worker that died counts one)")
    max_attempts: int
    result: GenerationResult | None
    error: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Any) -> JobView:
        return cls(job_id=job.job_id, status=job.status, worker=job.worker, attempts=job.attempts,
                   max_attempts=job.max_attempts,
                   result=GenerationResult.model_validate(job.result) if job.result else None, error=job.error,
                   created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at)
