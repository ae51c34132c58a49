"""GenerationResult: what one generation did, typed once.

The agent fills it, the API answers it (POST /generate's response model), its row in
``code_generation_logs`` is derived from it (``log_row``), the CLI prints it and the workflow
reads it. A failure keeps its message (``error``: what failed) apart from its fix
(``error_fix``: what to do so the next run succeeds), in the result, the row and the JSON.

The seed's tests read the result as a dict (``result["success"]``,
``result["usage"]["input_tokens"]``), so those reads keep working: ``result[key]`` is the
field ``key``; ``model_dump()`` is the plain dict.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from devmatrix.errors import DevMatrixError


class _Readable(BaseModel):
    """``model[key]`` reads the field ``key``: the seed reads its results as dicts."""

    model_config = ConfigDict(validate_assignment=True, from_attributes=True)

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in type(self).model_fields else default


class Usage(_Readable):
    input_tokens: int = 0
    output_tokens: int = 0


class EvidenceCheck(_Readable):
    """One check of the generated code (devmatrix.evidence): ast and ruff on the host, import and
    pytest inside the bubblewrap sandbox."""

    name: Literal["ast", "ruff", "import", "pytest"]
    target: str = Field(description="the file checked, relative to the workspace")
    passed: bool
    output: str = Field(description="an excerpt of what the check printed (at most 4000 characters)")
    seconds: float
    skipped: bool = Field(description="not run (no tests, or a file that does not parse); passed stays true")
    limits_hit: list[str] = Field(description="sandbox limits the run met: wall, cpu, memory, processes, …")


ApprovalStatus = Literal["approved", "rejected", "pending_review", "error"]


class GenerationResult(_Readable):
    """The agent's result: the seed's keys, ``log_id`` (its row in code_generation_logs: the same
    key as `devmatrix generate --json` and GET /generations/{log_id}), the evidence, and the
    error as message and fix."""

    log_id: int | None = Field(default=None,
                               description="row id in code_generation_logs; null only when logging failed")
    success: bool = False
    approval_status: ApprovalStatus = "error"
    approval_min_score: float = Field(description="the review gate this generation passed or failed")
    file_written: bool = False
    file_path: str | None = None
    generated_code: str = ""
    quality_score: float | None = None
    git_committed: bool = False
    git_commit_hash: str | None = None
    error: str | None = Field(default=None, description="what failed; null on success")
    error_fix: str | None = Field(default=None, description="what to do so it succeeds next time; null when"
                                                            " there is no error, or nothing to advise")
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_s: float = 0.0
    model: str | None = None
    backend: str | None = None
    cache_hit: bool = False
    rag_examples: int = 0
    rag_example_ids: list[str] = Field(default_factory=list,
                                       description="the corpus examples put in the prompt, best first")
    workspace_id: str
    evidence: list[EvidenceCheck] = Field(default_factory=list,
                                          description="the last round's checks; empty when the generation"
                                                      " stopped before them")
    evidence_passed: bool | None = Field(default=None, description="null when no evidence was gathered")
    evidence_repair_rounds: int = Field(default=0, description="times failing evidence went back to the model")
    score_advisory: bool | None = Field(default=None, description="true when the review score did not gate"
                                                                  " (local backend)")
    logging_error: str | None = Field(default=None, description="why the log row could not be written")
    generation_id: str | None = Field(default=None, description="the job id when it ran on a worker: its"
                                                                " commit's Generation-Id trailer and its"
                                                                " row's key (one of each, however often"
                                                                " it is retried); null otherwise")

    def fail(self, error: DevMatrixError) -> None:
        """Record ``error``: its message and its fix, each in its own field."""
        self.success = False
        self.error, self.error_fix = error.message, error.fix

    @property
    def error_line(self) -> str | None:
        """The error as one line for a person: `what failed — fix: what to do`."""
        if self.error is None:
            return None
        return f"{self.error} — fix: {self.error_fix}" if self.error_fix else self.error

    def add_usage(self, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
        self.usage.input_tokens += input_tokens
        self.usage.output_tokens += output_tokens
        self.cost_usd = round(self.cost_usd + cost_usd, 6)

    def log_row(self, user_request: str) -> dict[str, object]:
        """Its row in code_generation_logs, column → value: the fields with a column of their own
        (LOG_COLUMNS), the token counts, and every other field in ``metadata`` (JSON), so a new
        field is logged without touching the insert."""
        data = self.model_dump(mode="json")
        row: dict[str, object] = {"user_request": user_request,
                                  **{column: data[column] for column in LOG_COLUMNS},
                                  "input_tokens": self.usage.input_tokens,
                                  "output_tokens": self.usage.output_tokens}
        row["metadata"] = json.dumps({k: v for k, v in data.items()
                                      if k not in LOG_COLUMNS and k not in _NOT_IN_ROW})
        return row


# The fields of GenerationResult with a column of their own in code_generation_logs.
LOG_COLUMNS = ("workspace_id", "generated_code", "approval_status", "quality_score", "success", "error",
               "error_fix", "model", "backend", "cost_usd", "latency_s", "file_path", "git_commit_hash",
               "generation_id")
# Not in the row's metadata: the row's own id and whether it could be written, and the usage
# (its own columns, input_tokens and output_tokens).
_NOT_IN_ROW = frozenset({"log_id", "logging_error", "usage"})
