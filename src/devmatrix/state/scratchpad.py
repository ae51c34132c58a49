"""SharedScratchpad (seed §4.2): what agents of one workflow share while it runs.

Live state (task state, artifacts, messages) is in Redis under namespaced keys
with a TTL; every finished task is persisted to Postgres, which is the record a
workflow resumes from. Redis being down is a ServiceError, never a local dict.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from devmatrix.state.postgres import PostgresManager
from devmatrix.state.redis import RedisManager

KEY_PREFIX = "devmatrix:wf"
TTL_S = 24 * 3600
WORKFLOW_ID_MAX_CHARS = 64  # workflows.workflow_id is VARCHAR(64) (migrations/003_workflows.sql)


@dataclass
class TaskRecord:
    task_id: str
    type: str
    status: str  # completed | failed | skipped
    artifact: str = ""
    files: list[str] = field(default_factory=list)
    git_commit_hash: str | None = None
    error: str | None = None  # what failed
    error_fix: str | None = None  # what to do about it
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float = 0.0
    job_id: str | None = None  # the job that ran it on the workers (None: run in the starting process)
    worker: str | None = None  # that job's worker node


class SharedScratchpad:
    def __init__(self, redis_manager: RedisManager, postgres_manager: PostgresManager) -> None:
        self.redis = redis_manager
        self.postgres = postgres_manager

    # --- live state in Redis ---------------------------------------------------
    def _key(self, workflow_id: str, *parts: str) -> str:
        return ":".join((KEY_PREFIX, workflow_id, *parts))

    def _redis(self, operation, *args):
        with self.redis.guard("scratchpad"):
            return operation(*args)

    def set_state(self, workflow_id: str, task_id: str, **values: object) -> None:
        key = self._key(workflow_id, "task", task_id)
        mapping = {k: json.dumps(v) for k, v in values.items()}
        pipe = self.redis.client.pipeline()
        pipe.hset(key, mapping=mapping)
        pipe.expire(key, TTL_S)
        self._redis(pipe.execute)

    def get_state(self, workflow_id: str, task_id: str) -> dict[str, object]:
        raw = self._redis(self.redis.client.hgetall, self._key(workflow_id, "task", task_id))
        return {k: json.loads(v) for k, v in raw.items()}

    def post_message(self, workflow_id: str, sender: str, text: str) -> None:
        key = self._key(workflow_id, "messages")
        pipe = self.redis.client.pipeline()
        pipe.rpush(key, json.dumps({"from": sender, "text": text}))
        pipe.expire(key, TTL_S)
        self._redis(pipe.execute)

    def messages(self, workflow_id: str) -> list[dict]:
        raw = self._redis(self.redis.client.lrange, self._key(workflow_id, "messages"), 0, -1)
        return [json.loads(m) for m in raw]

    def live_keys(self, workflow_id: str) -> list[str]:
        with self.redis.guard("scratchpad"):  # scan_iter is lazy: consume it inside the guard
            return list(self.redis.client.scan_iter(self._key(workflow_id, "*")))

    def clear(self, workflow_id: str) -> int:
        keys = self.live_keys(workflow_id)
        return self._redis(self.redis.client.delete, *keys) if keys else 0

    # --- the durable record in Postgres ---------------------------------------
    def start_workflow(self, workflow_id: str, user_request: str, workspace_id: str,
                       plan: dict, plan_source: str) -> None:
        self.postgres.execute(
            "INSERT INTO workflows (workflow_id, user_request, workspace_id, plan, plan_source)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (workflow_id) DO UPDATE SET status = 'running'",
            (workflow_id, user_request, workspace_id, json.dumps(plan), plan_source),
        )

    def load_workflow(self, workflow_id: str) -> dict | None:
        rows = self.postgres.execute("SELECT * FROM workflows WHERE workflow_id = %s", (workflow_id,))
        return rows[0] if rows else None

    def finish_workflow(self, workflow_id: str, status: str) -> None:
        self.postgres.execute(
            "UPDATE workflows SET status = %s, finished_at = NOW() WHERE workflow_id = %s",
            (status, workflow_id),
        )

    def persist_task(self, workflow_id: str, record: TaskRecord) -> None:
        row = asdict(record)
        row["files"] = json.dumps(row["files"])
        columns = ", ".join(row)
        self.postgres.execute(
            f"INSERT INTO workflow_tasks (workflow_id, {columns})"  # noqa: S608 - fixed column names
            f" VALUES (%(workflow_id)s, {', '.join(f'%({c})s' for c in row)})"
            " ON CONFLICT (workflow_id, task_id) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in row if c != "task_id"),
            {"workflow_id": workflow_id, **row},
        )

    def send_task(self, workflow_id: str, task_id: str, task_type: str, job_id: str) -> None:
        """A node sent to the workers (workflows/dispatch.py): its row names its job, ``queued``."""
        self.postgres.execute(
            "INSERT INTO workflow_tasks (workflow_id, task_id, type, status, job_id)"
            " VALUES (%s, %s, %s, 'queued', %s) ON CONFLICT (workflow_id, task_id)"
            " DO UPDATE SET status = 'queued', job_id = EXCLUDED.job_id",
            (workflow_id, task_id, task_type, job_id),
        )

    def sent_tasks(self, workflow_id: str) -> dict[str, str]:
        """{task id: job id} of the nodes sent to the workers and not recorded as completed."""
        rows = self.postgres.execute(
            "SELECT task_id, job_id FROM workflow_tasks WHERE workflow_id = %s AND status <> 'completed'"
            " AND job_id IS NOT NULL", (workflow_id,),
        )
        return {r["task_id"]: str(r["job_id"]) for r in rows}

    def completed_tasks(self, workflow_id: str) -> dict[str, TaskRecord]:
        rows = self.postgres.execute(
            "SELECT * FROM workflow_tasks WHERE workflow_id = %s AND status = 'completed'",
            (workflow_id,),
        )
        return {r["task_id"]: _record(r) for r in rows}


def _record(row: dict) -> TaskRecord:
    fields = {k: row[k] for k in TaskRecord.__dataclass_fields__}
    fields["cost_usd"] = float(fields["cost_usd"] or 0)
    fields["git_commit_hash"] = (fields["git_commit_hash"] or "").strip() or None
    fields["job_id"] = str(fields["job_id"]) if fields["job_id"] else None
    for stamp in ("started_at", "finished_at"):
        fields[stamp] = fields[stamp].isoformat() if fields[stamp] else None
    return TaskRecord(**fields)
