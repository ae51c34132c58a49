"""JobStore: the ``jobs`` table, the one truth about a job (Celery carries only its id).

Every transition is one conditional UPDATE, so two deliveries of the same message (a
redelivery after a worker died, a duplicate after a visibility timeout) can never both
move a job: ``claim`` counts the attempt and refuses past ``max_attempts``; ``finish``
only ends a job that is still running; ``cancel`` only a job not yet finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devmatrix.errors import InvalidValue
from devmatrix.jobs._constants import FINISHED, MAX_ATTEMPTS
from devmatrix.state.postgres import PostgresManager

MAX_RECENT = 1000  # `devmatrix jobs --limit`: the most jobs one listing reads
_COLUMNS = "job_id, kind, request, status, worker, worker_pid, attempts, max_attempts, result, error," \
           " created_at, started_at, finished_at"


@dataclass(frozen=True)
class Job:
    job_id: str
    kind: str
    request: dict[str, Any]
    status: str
    worker: str | None
    worker_pid: int | None
    attempts: int
    max_attempts: int
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        return cls(**{**row, "job_id": str(row["job_id"])})


@dataclass(frozen=True)
class Claim:
    """What a delivery found: the job to run (``job``), or why it runs nothing (``skip``)."""

    job: Job | None
    skip: str = ""
    gave_up: bool = False  # this delivery was past the attempt bound: it failed the job


def _json(value: object) -> str:
    return json.dumps(value, default=str)


class JobStore:
    def __init__(self, postgres: PostgresManager) -> None:
        self.postgres = postgres

    def create(self, request: dict[str, Any], *, kind: str = "generate", max_attempts: int = MAX_ATTEMPTS,
               job_id: str | None = None) -> Job:
        rows = self.postgres.execute(
            f"INSERT INTO jobs (job_id, kind, request, max_attempts) VALUES (%s, %s, %s::jsonb, %s)"  # noqa: S608
            f" RETURNING {_COLUMNS}", (job_id or str(uuid.uuid4()), kind, _json(request), max_attempts))
        return Job.from_row(rows[0])

    def get(self, job_id: str) -> Job | None:
        try:
            uuid.UUID(job_id)
        except ValueError:
            return None
        rows = self.postgres.execute(f"SELECT {_COLUMNS} FROM jobs WHERE job_id = %s", (job_id,))  # noqa: S608
        return Job.from_row(rows[0]) if rows else None

    def recent(self, limit: int = 20) -> list[Job]:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RECENT:
            raise InvalidValue(f"limit {limit!r} is not a number of jobs (a whole number from 1 to {MAX_RECENT})",
                               fix=f"ask for between 1 and {MAX_RECENT} jobs (`devmatrix jobs --limit N`)")
        rows = self.postgres.execute(
            f"SELECT {_COLUMNS} FROM jobs ORDER BY created_at DESC LIMIT %s", (limit,))  # noqa: S608
        return [Job.from_row(row) for row in rows]

    def running_on(self, worker: str) -> list[str]:
        """The jobs ``worker`` (a node name) holds as running."""
        rows = self.postgres.execute("SELECT job_id FROM jobs WHERE worker = %s AND status = 'running'"
                                     " ORDER BY started_at", (worker,))
        return [str(row["job_id"]) for row in rows]

    def claim(self, job_id: str, worker: str) -> Claim:
        """Count one delivery to ``worker`` and mark the job running, or say why not.

        A job still ``running`` is claimable: its worker died and the message came back. An
        attempt past ``max_attempts`` fails the job instead, so a redelivery never loops."""
        rows = self.postgres.execute(
            "UPDATE jobs SET status = 'running', worker = %s, worker_pid = %s,"  # noqa: S608 - constant columns
            " attempts = attempts + 1, started_at = COALESCE(started_at, NOW())"
            " WHERE job_id = %s AND status IN ('queued', 'running') AND attempts < max_attempts"
            f" RETURNING {_COLUMNS}", (worker, os.getpid(), job_id))
        if rows:
            return Claim(Job.from_row(rows[0]))
        job = self.get(job_id)
        if job is None:
            return Claim(None, "no such job (its row is gone)")
        if job.finished:
            return Claim(None, f"already {job.status}")
        error = {"type": "AttemptsExhausted", "service": "worker", "http_status": 503,
                 "message": f"job {job_id} was delivered {job.attempts} times without finishing"
                            f" (max_attempts={job.max_attempts}); its workers died or hung",
                 "fix": "read the worker logs (`invoke infra.logs worker`), then submit it again"}
        self.finish(job_id, "failed", error=error, from_status=("queued", "running"))
        return Claim(None, f"gave up after {job.attempts} attempts", gave_up=True)

    def finish(self, job_id: str, status: str, *, result: dict[str, Any] | None = None,
               error: dict[str, Any] | None = None, from_status: tuple[str, ...] = ("running",)) -> bool:
        """End a job that is still in ``from_status``; False when it was not (e.g. cancelled meanwhile)."""
        rows = self.postgres.execute(
            "UPDATE jobs SET status = %s, result = %s::jsonb, error = %s::jsonb, finished_at = NOW()"
            " WHERE job_id = %s AND status = ANY(%s) RETURNING job_id",
            (status, _json(result) if result is not None else None, _json(error) if error is not None else None,
             job_id, list(from_status)))
        return bool(rows)

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a job not yet finished; the job as it now is (None: no such job)."""
        if self.get(job_id) is None:
            return None
        self.postgres.execute(
            "UPDATE jobs SET status = 'cancelled', finished_at = NOW()"
            " WHERE job_id = %s AND status IN ('queued', 'running')", (job_id,))
        return self.get(job_id)

    # --- replies already paid for (job_llm_replies) ---------------------------------
    def paid_reply(self, job_id: str, seq: int, prompt_sha256: str) -> dict[str, Any] | None:
        rows = self.postgres.execute(
            "SELECT reply FROM job_llm_replies WHERE job_id = %s AND seq = %s AND prompt_sha256 = %s",
            (job_id, seq, prompt_sha256))
        return rows[0]["reply"] if rows else None

    def keep_reply(self, job_id: str, seq: int, prompt_sha256: str, reply: dict[str, Any]) -> None:
        self.postgres.execute(
            "INSERT INTO job_llm_replies (job_id, seq, prompt_sha256, reply) VALUES (%s, %s, %s, %s::jsonb)"
            " ON CONFLICT (job_id, seq) DO UPDATE SET prompt_sha256 = EXCLUDED.prompt_sha256,"
            " reply = EXCLUDED.reply", (job_id, seq, prompt_sha256, _json(reply)))


def prompt_key(*parts: object) -> str:
    """The sha256 of an LLM call's inputs: a stored reply is reused only for the same call."""
    return hashlib.sha256(_json(parts).encode()).hexdigest()
