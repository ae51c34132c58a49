"""JobClient.wait on the real Postgres: it returns a finished (or deleted) job at once, and a job
still queued as it is once its deadline passes (a poll of the job's row, devmatrix.retry.poll)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from devmatrix.jobs.submit import JobClient

pytestmark = [pytest.mark.integration, pytest.mark.real_services]
SLACK_S = 3.0


@pytest.fixture
def jobs(settings, real_postgres_manager):
    client = JobClient(settings, real_postgres_manager)
    made: list[str] = []
    client.made = made
    yield client
    for job_id in made:
        real_postgres_manager.execute("DELETE FROM jobs WHERE job_id = %s", (job_id,))
    client.close()


def _queued(jobs) -> str:
    job = jobs.store.create({"request": "test: wait", "workspace_id": "test-wait", "caller": "test"})
    jobs.made.append(job.job_id)
    return job.job_id


def test_a_job_still_queued_is_returned_as_it_is_at_the_deadline(jobs):
    job_id = _queued(jobs)
    start = time.monotonic()
    job = jobs.wait(job_id, 0.6)
    assert 0.6 <= time.monotonic() - start < 0.6 + SLACK_S
    assert (job.job_id, job.status) == (job_id, "queued")


def test_a_job_that_ends_meanwhile_ends_the_wait(jobs):
    job_id = _queued(jobs)
    ender = threading.Timer(0.5, lambda: jobs.store.finish(job_id, "failed", from_status=("queued",),
                                                           error={"message": "test", "fix": None}))
    ender.start()
    start = time.monotonic()
    job = jobs.wait(job_id, 30)
    ender.join()
    assert job.status == "failed" and time.monotonic() - start < 0.5 + SLACK_S


def test_a_job_that_is_not_there_ends_the_wait_at_once(jobs):
    start = time.monotonic()
    assert jobs.wait(str(uuid.uuid4()), 30) is None
    assert time.monotonic() - start < SLACK_S
