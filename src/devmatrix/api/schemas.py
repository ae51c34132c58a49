"""Request and response bodies: what the OpenAPI schema promises, and pydantic enforces."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from devmatrix.agents.codegen import MAX_REQUEST_CHARS

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

    request: Annotated[str, Field(min_length=1, max_length=MAX_REQUEST_CHARS, pattern=r"\S",
                                  description="what code to generate (not only whitespace)")]
    workspace_id: Annotated[str, Field(pattern=WORKSPACE_ID_PATTERN,
                                       description="the workspace (a git repository under WORKSPACE_DIR)")]
    git_enabled: bool = Field(default=True, strict=True, description="commit the written file")
    auto_approve: bool = Field(default=True, strict=True, description=(
        "true: the review gate decides alone, and code scoring below min_score is `rejected`"
        " (success false); false: it is `pending_review` for a person. Either way code below the"
        " gate is written under the workspace's .devmatrix-review/ and never committed"))
    min_score: float | None = Field(default=None, ge=0, le=10, description=(
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


class Usage(BaseModel):
    input_tokens: int
    output_tokens: int


class EvidenceCheck(BaseModel):
    """One check of the generated code (devmatrix.evidence): ast and ruff on the host, import and
    pytest inside the bubblewrap sandbox."""

    name: Literal["ast", "ruff", "import", "pytest"]
    target: str = Field(description="the file checked, relative to the workspace")
    passed: bool
    output: str = Field(description="an excerpt of what the check printed (at most 4000 characters)")
    seconds: float
    skipped: bool = Field(description="not run (no tests, or a file that does not parse); passed stays true")
    limits_hit: list[str] = Field(description="sandbox limits the run met: wall, cpu, memory, processes, …")


class GenerateResult(BaseModel):
    """The agent's result: the seed's keys, and ``log_id``, its row in code_generation_logs (the
    same key as `devmatrix generate --json` and GET /generations/{log_id})."""

    log_id: int | None = Field(description="row id in code_generation_logs; null only when logging failed")
    success: bool
    approval_status: Literal["approved", "rejected", "pending_review", "error"]
    approval_min_score: float = Field(description="the review gate this generation passed or failed")
    file_written: bool
    file_path: str | None
    generated_code: str
    quality_score: float | None
    git_committed: bool
    git_commit_hash: str | None
    error: str | None
    usage: Usage
    cost_usd: float
    latency_s: float
    model: str | None
    backend: str | None
    cache_hit: bool
    rag_examples: int
    rag_example_ids: list[str] = Field(description="the corpus examples put in the prompt, best first")
    workspace_id: str
    evidence: list[EvidenceCheck] = Field(default_factory=list,
                                          description="the last round's checks; empty when the generation"
                                                      " stopped before them")
    evidence_passed: bool | None = Field(default=None, description="null when no evidence was gathered")
    evidence_repair_rounds: int = Field(default=0, description="times failing evidence went back to the model")
    score_advisory: bool | None = Field(default=None, description="true when the review score did not gate"
                                                                  " (local backend)")
    logging_error: str | None = None

    @classmethod
    def from_agent(cls, result: dict[str, Any]) -> GenerateResult:
        return cls(**result)


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
    error: str | None
    model: str | None
    backend: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    latency_s: float | None
    file_path: str | None
    git_commit_hash: str | None
