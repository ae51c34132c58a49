"""The worker's one task and its start-up duty; light, so that a worker answers a ping at once.

``devmatrix.jobs.generate(job_id)`` runs ``run.run_job``. A job that ended failed (its row stored
first) ends the task in Celery's FAILURE state, by ``JobFailed``: Flower's task-failed events and
the JobFailureRatioHigh alert count it. The message is acknowledged all the same
(``task_acks_on_failure_or_timeout``: never delivered again), nothing retries it, and
``JobFailed`` is in the task's ``throws``: one INFO line in the worker log, no traceback.

The module run_job lives in loads the agent stack (the anthropic SDK, the agents, RAG's client:
5-10 s of imports on a busy 2-core machine), so it is loaded with the first job of each pool
process, not when the worker starts: a worker imported it before its first ping, and `invoke
infra.up` (phase1) waited for it (CI at ff1b088: infra 10.5 s of a 15.2 s first phase1). The first
job of a pool process pays that load once.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

import structlog
from celery import Celery

from devmatrix.config import Settings
from devmatrix.errors import JobFailed, ServiceError
from devmatrix.jobs._constants import STORE_RETRIES, STORE_RETRY_S, TASK_NAME
from devmatrix.jobs.store import JobStore
from devmatrix.state.postgres import PostgresManager

log = structlog.get_logger("devmatrix.jobs")
# what a job runs (WorkerContext, run_job): loaded by name on a pool process's first job
RUNNER = "devmatrix.jobs.run"


def hand_back(app: Celery, settings: Settings, node: str) -> list[str]:
    """At a node's start: the jobs its row says it is running were its previous life's (a node
    name is one process of one stack), which died with it. Their messages wait unacknowledged
    for the visibility timeout (270 s); they are sent again now, so a node the supervisor
    restarted in seconds does not hold its jobs for minutes. The late redelivery finds them
    finished (a job runs at most the hard time limit, below the visibility timeout) or counts
    one more attempt; the effects happen once either way (run.run_job)."""
    postgres = PostgresManager(settings=settings)
    try:
        held = JobStore(postgres).running_on(node)
    finally:
        postgres.close()
    for job_id in held:
        app.send_task(TASK_NAME, args=[job_id], task_id=job_id, queue=settings.worker_queue)
        log.warning("job_handed_back", job_id=job_id, worker=node, reason="running on this node when it died")
    return held


def register(app: Celery, settings: Settings) -> None:
    """The one task: ``devmatrix.jobs.generate(job_id)``; its Celery task id is the job id."""
    loaded: list[tuple[ModuleType, object]] = []  # (the runner, this process's WorkerContext)

    @app.task(name=TASK_NAME, bind=True, max_retries=STORE_RETRIES, shared=False,  # this app only
              throws=(JobFailed,))  # an expected end: logged without a traceback
    def generate(self, job_id: str) -> str:
        if not loaded:  # the first job of this pool process (forked before any job: each loads its own)
            runner = import_module(RUNNER)
            loaded.append((runner, runner.WorkerContext(settings)))
        runner, context = loaded[0]
        try:
            status = runner.run_job(context, job_id, self.request.hostname)
        except ServiceError as error:  # the job's row was out of reach: deliver it again, never drop it
            log.warning("job_store_unreachable", job_id=job_id, retry_in_s=STORE_RETRY_S,
                        retries=self.request.retries, error=str(error))
            raise self.retry(exc=error, countdown=STORE_RETRY_S) from error
        if status == "failed":  # stored as failed: now Celery counts it failed (acknowledged, not retried)
            raise JobFailed(f"job {job_id} failed; its row holds why: GET /api/v1/jobs/{job_id}")
        return status
