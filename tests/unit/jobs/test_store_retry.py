"""How the task ends: a delivery whose job row is out of reach is sent again; a failed job is a FAILURE.

The task runs here through Celery's ``apply`` (in this process, no broker): the subject is what
the task does with the runner's ServiceError, not the delivery. The real delivery is the chaos
tier's postgres-kill-during-generate case.
"""

from __future__ import annotations

import logging
import sys
import types

import pytest

from devmatrix.config import Settings
from devmatrix.errors import DevMatrixError, JobFailed, ServiceError
from devmatrix.jobs import _constants, tasks
from devmatrix.jobs.app import make_app

pytestmark = pytest.mark.unit


@pytest.fixture
def runner(monkeypatch):
    """A stand-in for jobs/run.py: its run_job raises what ``outcomes`` holds, in turn, then returns."""
    module = types.ModuleType("fake_runner")
    module.outcomes = []
    module.WorkerContext = lambda settings: object()

    def run_job(context, job_id, node):
        outcome = module.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    module.run_job = run_job
    monkeypatch.setitem(sys.modules, "fake_runner", module)
    monkeypatch.setattr(tasks, "RUNNER", "fake_runner")
    return module


@pytest.fixture
def task():
    settings = Settings(redis_port=16379)
    app = make_app(settings)
    app.set_current()  # an eager retry finds its task by name in the current app: this test's
    tasks.register(app, settings)
    return app.tasks[_constants.TASK_NAME]


OUT_OF_REACH = ServiceError("postgres", "cannot connect: the database system is not yet accepting connections")


def test_a_job_whose_row_is_out_of_reach_is_delivered_again_not_dropped(runner, task):
    runner.outcomes = [OUT_OF_REACH, OUT_OF_REACH, "succeeded"]
    assert task.apply(args=["job-1"]).get() == "succeeded"
    assert runner.outcomes == []  # delivered three times: the store came back on the third


def test_the_retries_are_bounded_then_the_error_stays(runner, task):
    runner.outcomes = [OUT_OF_REACH] * (_constants.STORE_RETRIES + 5)
    # (Celery hands the error back through pickling, as its DevMatrixError base: the message is kept)
    with pytest.raises(DevMatrixError, match="not yet accepting connections"):
        task.apply(args=["job-1"]).get()
    assert len(runner.outcomes) == 4  # the first delivery and STORE_RETRIES more, no further


def test_a_bug_is_not_retried(runner, task):
    runner.outcomes = [KeyError("a bug"), "never reached"]
    with pytest.raises(KeyError):
        task.apply(args=["job-1"]).get()
    assert runner.outcomes == ["never reached"]


def test_a_failed_job_ends_the_task_in_failure_once_without_a_traceback(runner, task, caplog):
    """Stored as failed by run_job, the job ends its task in FAILURE (Flower counts task-failed,
    JobFailureRatioHigh sees it); run once, not retried; logged as expected, without a traceback."""
    runner.outcomes = ["failed", "never reached"]
    with caplog.at_level(logging.DEBUG, logger="celery"):
        outcome = task.apply(args=["job-1"])
    assert outcome.state == "FAILURE" and isinstance(outcome.result, JobFailed)
    assert "job-1" in str(outcome.result)
    assert runner.outcomes == ["never reached"]  # one run: no retry
    traced = [r for r in caplog.records if r.name.startswith("celery")]
    assert traced and not any(r.exc_info or r.levelno >= logging.ERROR for r in traced), [
        (r.levelname, r.getMessage()) for r in traced]


@pytest.mark.parametrize("status", ["succeeded", "cancelled", "skipped: already succeeded"])
def test_a_job_that_did_not_fail_ends_the_task_in_success(runner, task, status):
    runner.outcomes = [status]
    outcome = task.apply(args=["job-1"])
    assert outcome.state == "SUCCESS" and outcome.result == status


def test_a_failed_task_is_acknowledged_never_delivered_again():
    config = make_app(Settings(redis_port=16379)).conf
    assert config.task_acks_late and config.task_acks_on_failure_or_timeout
