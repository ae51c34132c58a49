"""Submitting jobs and reading them back: what the API and the CLI use (never the worker).

A job is its row first, then its message: a row without a message (the broker refused it) is
failed at once and the caller gets ServiceError; a message without a row cannot exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import kombu
import kombu.exceptions
from celery import Celery

from devmatrix import clients, readiness
from devmatrix.config import Settings
from devmatrix.errors import DevMatrixError, ServiceError
from devmatrix.jobs._constants import PING_TIMEOUT_S, QUEUED_CHECK_S, SYNC_WAIT_S, TASK_NAME, WAIT_POLL_S
from devmatrix.jobs.app import broker_address, make_app
from devmatrix.jobs.outcome import failure_of
from devmatrix.jobs.service import ping_nodes
from devmatrix.jobs.store import Job, JobStore
from devmatrix.retry import PollTimedOut, poll
from devmatrix.state.postgres import PostgresManager

_KOMBU_DIR = Path(kombu.__file__).parent


def _raised_inside_kombu(error: AttributeError) -> bool:
    """True when the innermost frame of ``error`` is kombu's own code (not ours, not Celery's)."""
    tb: TracebackType | None = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and Path(tb.tb_frame.f_code.co_filename).is_relative_to(_KOMBU_DIR)


@contextmanager
def _broker_call(what: str, *, fix: str) -> Iterator[None]:
    """A call through the broker (a publish, a revoke): its failure is ServiceError("redis").

    kombu 5.7.0's Redis transport, when Redis restarts during a publish: Producer._publish holds
    its channel, the retried queue declaration reconnects (kombu's ensure() closes that channel:
    channel.connection = None), then basic_publish on the closed channel reaches
    Channel._connparams: "'NoneType' object has no attribute 'client'" (chaos: redis kill during
    workflow). The broker went away: only kombu's own AttributeError is its connection error."""
    with clients.map_exceptions("redis", what, fix=fix):
        try:
            yield
        except AttributeError as error:
            if not _raised_inside_kombu(error):
                raise
            raise kombu.exceptions.OperationalError(
                f"its connection closed during the call (kombu: {error})") from error


class JobClient:
    def __init__(self, settings: Settings, postgres: PostgresManager, *, app: Celery | None = None) -> None:
        self.settings = settings
        self.store = JobStore(postgres)
        self.app = app or make_app(settings)

    def workers(self, *, timeout_s: float = PING_TIMEOUT_S, limit: int | None = 1) -> list[str]:
        """Nodes that answer a ping (by default: returns at the first answer, or after ``timeout_s``)."""
        s = self.settings
        with clients.map_exceptions("redis", f"cannot reach Redis at {s.redis_host}:{s.redis_port}"
                                             f" (the job broker, {broker_address(s)})",
                                    fix="`invoke infra.up -s redis`"):
            # on a connection of its own: never a pooled one Redis closed when it restarted
            return ping_nodes(self.app, timeout_s, limit)

    def require_workers(self) -> None:
        if not self.workers():
            raise ServiceError("worker", f"no worker answered a ping within {PING_TIMEOUT_S:g} s on"
                                         f" {broker_address(self.settings)}: the job would only wait",
                               fix="`invoke infra.up -s worker`, then `invoke infra.status`")

    def submit(self, request: dict[str, Any], *, caller: str = "api") -> Job:
        """Record the job (queued), then send its id to the workers; the Celery task id is the job id."""
        job = self.store.create({**request, "caller": caller})
        self.send(job.job_id)
        return job

    def send(self, job_id: str) -> None:
        """Send a recorded job's id to the workers (its Celery task id); a job the broker refused
        is failed at once, and ServiceError raised."""
        try:
            with _broker_call(f"the broker {broker_address(self.settings)} refused job {job_id}",
                              fix="`invoke infra.up -s redis`; submit again"):
                self.app.send_task(TASK_NAME, args=[job_id], task_id=job_id, queue=self.settings.worker_queue)
        except ServiceError as failure:
            self.store.finish(job_id, "failed", from_status=("queued",), error={
                "type": "ServiceError", "message": failure.message, "fix": failure.fix, "service": "redis",
                "http_status": 503, "exit_code": 3})
            raise

    def check_broker(self, queued: list[str]) -> None:
        """ServiceError("redis") when the broker does not answer a PING: the ``queued`` jobs (ids)
        wait on it. Their messages stay in Redis, so each still runs once it answers."""
        names = ", ".join(queued[:3]) + (f" and {len(queued) - 3} more" if len(queued) > 3 else "")
        try:
            readiness.redis_ping(self.settings)  # the probe: one attempt, a frozen server not retried
        except ServiceError as down:
            raise ServiceError("redis", f"job {names} is still queued and the broker {broker_address(self.settings)}"
                                        f" does not answer a PING ({down.message})",
                               fix="`invoke infra.up -s redis`, then `invoke infra.status`; a queued"
                                   " job runs once the broker answers (`devmatrix jobs`)") from down

    def wait(self, job_id: str, timeout_s: float, *, check_every_s: float = QUEUED_CHECK_S) -> Job:
        """The job once finished, or as it is after ``timeout_s``; ServiceError("redis") as soon as
        it waits queued on a broker that does not answer (QueueWatch)."""
        last: list[Job | None] = [None]
        watch = QueueWatch(self, check_every_s=check_every_s)

        def ended() -> tuple[Job | None] | None:
            last[0] = job = self.store.get(job_id)
            if job is None or job.finished:
                return (job,)  # a deleted job ends the wait too
            watch.look([job])
            return None

        try:
            return poll(ended, timeout_s=timeout_s, wait_s=WAIT_POLL_S)[0]
        except PollTimedOut:
            return last[0]  # as it was at the last look

    def run(self, request: dict[str, Any], *, caller: str, timeout_s: float = SYNC_WAIT_S) -> Job:
        """Submit and wait, as POST /generate does: the finished job with its result, or the
        error it ended with, raised as its own class (jobs.outcome)."""
        job = self.wait(self.submit(request, caller=caller).job_id, timeout_s)
        if job is None:
            raise DevMatrixError("the job's row was deleted while it was waited for", fix="run it again")
        if job.result:
            return job
        if not job.finished:
            raise ServiceError("worker", f"job {job.job_id} did not finish within {timeout_s:g} s (it is"
                                         f" {job.status})", fix=f"it goes on: `devmatrix jobs` shows {job.job_id}")
        raise failure_of(job.job_id, job.status, job.error)

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued or running job: its row says so at once, and a running one is stopped."""
        before = self.store.get(job_id)
        job = self.store.cancel(job_id)
        if before is not None and before.status == "running":
            with _broker_call(f"job {job_id} is cancelled in Postgres, but its worker could not be told to stop",
                              fix="it stops at its time limit"):
                self.app.control.revoke(job_id, terminate=True)
        return job

    def close(self) -> None:
        self.app.close()


class QueueWatch:
    """For a caller that waits on jobs: while any of them is still queued, the broker is asked for a
    PING every ``check_every_s`` (the first one that long after the watch starts, or after nothing
    was queued), so a broker that stopped answering ends the wait with its name instead of holding
    it for the whole deadline. A running job needs no broker to finish: it is never the reason."""

    def __init__(self, jobs: JobClient, *, check_every_s: float = QUEUED_CHECK_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs = jobs
        self.check_every_s = check_every_s
        self._clock = clock
        self._since = clock()

    def due(self, waited_on: Iterable[Job]) -> list[str]:
        """The ids of the queued jobs when a check is due (and the clock restarts), else []."""
        now = self._clock()
        queued = [job.job_id for job in waited_on if job.status == "queued"]
        if not queued:
            self._since = now
            return []
        if now - self._since < self.check_every_s:
            return []
        self._since = now
        return queued

    def look(self, waited_on: Iterable[Job]) -> None:
        """Check the broker when due; ServiceError("redis") when it does not answer."""
        if queued := self.due(waited_on):
            self.jobs.check_broker(queued)
