"""A workflow's nodes on the workers: each one a job (devmatrix.jobs), read back from Postgres.

The scheduler (multi_agent.MultiAgentWorkflow) keeps the DAG and decides what is ready; this
module sends a ready node and tells how it ended. A node is a generation job whose Celery task
id is its job id, and the node's row in ``workflow_tasks`` names that job (``job_id``), so:
- the worker runs it as any job: delivered at most MAX_ATTEMPTS times, one commit (its
  ``Generation-Id:`` trailer), one log row, replies paid once (jobs/run.py);
- a node sent before the starting process died goes on on the workers; ``--resume`` finds its
  job by the row and takes it over (waits for it, or keeps its result) instead of running it
  again, and sends again only the nodes whose job failed or was never sent.
Celery keeps nothing: how a node ended is its job's row.
"""

from __future__ import annotations

import time
from datetime import datetime

from devmatrix.agents.result import GenerationResult
from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.jobs._constants import MAX_ATTEMPTS, RESTORE_INTERVAL_S, VISIBILITY_TIMEOUT_S
from devmatrix.jobs.outcome import failure_of
from devmatrix.jobs.store import Job
from devmatrix.jobs.submit import JobClient, QueueWatch
from devmatrix.state.scratchpad import SharedScratchpad, TaskRecord

# Jobs of workflow nodes are this kind in the `jobs` table (`devmatrix jobs` lists them too).
NODE_KIND = "workflow_task"
# A node not finished after this many seconds is given up on (the workflow is interrupted, and
# resumable): every delivery a job may get, each taken over at worst after the visibility
# timeout and one sweep. Only a job whose message was lost, or no worker at all, waits that long.
NODE_WAIT_S = MAX_ATTEMPTS * (VISIBILITY_TIMEOUT_S + RESTORE_INTERVAL_S)


def fill(record: TaskRecord, result: GenerationResult) -> TaskRecord:
    """A node's record from the generation that ran it (in this process or on a worker)."""
    record.status = "completed" if result.success else "failed"
    record.error, record.error_fix = result.error, result.error_fix
    record.artifact = result.generated_code
    record.files = [result.file_path] if result.file_written and result.file_path else []
    record.git_commit_hash = result.git_commit_hash
    record.input_tokens, record.output_tokens = result.usage.input_tokens, result.usage.output_tokens
    record.cost_usd = result.cost_usd
    return record


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds") if moment else None


def record_of(task_id: str, task_type: str, job: Job) -> TaskRecord:
    """A finished node's record from its job's row; a service outage is raised (ServiceError:
    the workflow is interrupted, as when it runs in this process)."""
    record = TaskRecord(task_id, task_type, "failed", started_at=_stamp(job.started_at),
                        finished_at=_stamp(job.finished_at), job_id=job.job_id, worker=job.worker)
    if job.started_at and job.finished_at:
        record.duration_s = round((job.finished_at - job.started_at).total_seconds(), 3)
    if job.result:
        return fill(record, GenerationResult.model_validate(job.result))
    failure = failure_of(job.job_id, job.status, job.error)
    if isinstance(failure, ServiceError):
        raise failure
    record.error, record.error_fix = failure.message, failure.fix  # the model's, or the request's
    return record


class WorkerNodes:
    """Sends the nodes of one workflow to the workers and reads back the ones that ended."""

    def __init__(self, jobs: JobClient, scratchpad: SharedScratchpad, settings: Settings, *,
                 use_cache: bool = True, clock=time.monotonic) -> None:
        self.jobs = jobs
        self.scratchpad = scratchpad
        self.settings = settings
        self.use_cache = use_cache
        self._clock = clock
        self._sent_at: dict[str, float] = {}  # job id -> when this process sent or took it over
        self._watch = QueueWatch(jobs, clock=clock)  # a node queued on a broker that stopped answering

    def earlier(self, workflow_id: str) -> dict[str, str]:
        """{task id: job id} of the nodes an earlier run sent and did not record as completed."""
        return self.scratchpad.sent_tasks(workflow_id)

    def take_over(self, job_id: str) -> bool:
        """Wait for a job an earlier run sent, when it is still going or succeeded; False when it
        failed or is gone (the node is sent again)."""
        job = self.jobs.store.get(job_id)
        if job is None or (job.finished and job.status != "succeeded"):
            return False
        self._sent_at[job_id] = self._clock()
        return True

    def send(self, workflow_id: str, workspace_id: str, task_id: str, task_type: str, request: str) -> str:
        """Send one node: its job row, its row in workflow_tasks naming the job, then the message."""
        body = {"request": request, "workspace_id": workspace_id, "git_enabled": True, "auto_approve": True,
                "enable_rag": False, "min_score": self.settings.approval_min_score, "use_cache": self.use_cache,
                "workspace_dir": str(self.settings.workspace_dir.resolve()),
                "workflow_id": workflow_id, "task_id": task_id}
        job_id = self.jobs.store.create({**body, "caller": "workflow"}, kind=NODE_KIND).job_id
        self.scratchpad.send_task(workflow_id, task_id, task_type, job_id)
        self.jobs.send(job_id)
        self._sent_at[job_id] = self._clock()
        return job_id

    def ended(self, in_flight: dict[str, str]) -> dict[str, Job]:
        """{task id: job} of the nodes in ``in_flight`` ({task id: job id}) whose job ended;
        ServiceError when one waits on a broker that does not answer (QueueWatch)."""
        ended: dict[str, Job] = {}
        going: list[Job] = []
        for task_id, job_id in in_flight.items():
            job = self.jobs.store.get(job_id)
            if job is None:
                raise ServiceError("worker", f"the job {job_id} of workflow node {task_id!r} has no row",
                                   fix="resume the workflow: the node is sent again")
            if job.finished:
                ended[task_id] = job
                continue
            going.append(job)
            if self._clock() - self._sent_at.get(job_id, self._clock()) > NODE_WAIT_S:
                raise ServiceError("worker", f"the job {job_id} of workflow node {task_id!r} is still {job.status}"
                                             f" after {NODE_WAIT_S:g} s", fix="check `invoke infra.status` (are"
                                             " workers up?), then resume the workflow")
        self._watch.look(going)
        return ended
