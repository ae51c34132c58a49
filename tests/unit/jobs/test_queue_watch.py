"""QueueWatch: a caller waiting on a queued job asks the broker for a PING every QUEUED_CHECK_S,
so a frozen broker ends the wait naming Redis (chaos redis-freeze-during-workflow waited 409 s
without a word); a running job, or none queued, never costs a check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devmatrix.errors import ServiceError
from devmatrix.jobs._constants import QUEUED_CHECK_S
from devmatrix.jobs.store import Job
from devmatrix.jobs.submit import QueueWatch

pytestmark = pytest.mark.unit


def _job(job_id: str, status: str) -> Job:
    return Job(job_id, "generation", {}, status, None, None, 0, 3, None, None, datetime(2026, 12, 7, tzinfo=UTC),
               None, None)


class Broker:
    def __init__(self, down: bool = False) -> None:
        self.down, self.checked = down, []

    def check_broker(self, queued: list[str]) -> None:
        self.checked.append(queued)
        if self.down:
            raise ServiceError("redis", "the broker does not answer a PING", fix="`invoke infra.up -s redis`")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_job_queued_for_the_check_interval_gets_one_check_and_the_clock_restarts():
    broker, clock = Broker(), Clock()
    watch = QueueWatch(broker, clock=clock)  # type: ignore[arg-type]
    queued = [_job("a", "queued"), _job("b", "running")]
    clock.now += QUEUED_CHECK_S - 0.1
    watch.look(queued)
    assert broker.checked == []
    clock.now += 0.1
    watch.look(queued)
    assert broker.checked == [["a"]]  # only the queued one waits on the broker
    clock.now += QUEUED_CHECK_S - 0.1
    watch.look(queued)
    assert broker.checked == [["a"]]


def test_running_jobs_never_cost_a_check_and_restart_the_clock():
    broker, clock = Broker(down=True), Clock()
    watch = QueueWatch(broker, clock=clock)  # type: ignore[arg-type]
    clock.now += 3 * QUEUED_CHECK_S
    watch.look([_job("a", "running")])
    clock.now += QUEUED_CHECK_S - 0.1
    watch.look([_job("a", "queued")])  # queued again (redelivered): its clock starts afresh
    assert broker.checked == []


def test_a_broker_that_does_not_answer_ends_the_wait_naming_redis():
    broker, clock = Broker(down=True), Clock()
    watch = QueueWatch(broker, clock=clock)  # type: ignore[arg-type]
    clock.now += QUEUED_CHECK_S
    with pytest.raises(ServiceError) as failure:
        watch.look([_job("a", "queued")])
    assert failure.value.service == "redis" and "infra.up -s redis" in (failure.value.fix or "")
