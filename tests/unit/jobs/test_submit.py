"""Sending or cancelling a job: a broker that went away is ServiceError naming redis (a sent job's row
is failed); an AttributeError of our own stays a bug."""

from __future__ import annotations

from types import SimpleNamespace

import kombu.exceptions
import pytest
from kombu.transport.redis import Channel

from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.jobs.submit import JobClient

pytestmark = pytest.mark.unit
JOB = "00000000-0000-0000-0000-000000000001"


class _Store:
    """Records what JobClient.send did to the job's row."""

    def __init__(self) -> None:
        self.finished: list[tuple[str, str, dict]] = []

    def finish(self, job_id: str, status: str, *, from_status: tuple[str, ...], error: dict) -> None:
        self.finished.append((job_id, status, error))


class _App:
    """A Celery app whose send_task fails as ``fail`` does (the injected network failure)."""

    def __init__(self, fail) -> None:
        self.fail = fail

    def send_task(self, *_args, **_kwargs) -> None:
        self.fail()

    @property
    def control(self):
        return SimpleNamespace(revoke=lambda *_args, **_kwargs: self.fail())


def _kombu_publish_on_a_closed_channel() -> None:
    # kombu 5.7.0's own line: a Redis channel closed by a reconnect inside Producer.publish
    # (its connection set to None) is asked for a connection pool: AttributeError from kombu
    Channel._connparams(SimpleNamespace(connection=None))


def _refused() -> None:
    raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def _our_bug() -> None:
    raise AttributeError("'NoneType' object has no attribute 'client'")


def _client(fail) -> tuple[JobClient, _Store]:
    client = JobClient(Settings(), postgres=None, app=_App(fail))  # type: ignore[arg-type]
    store = client.store = _Store()  # type: ignore[assignment]
    return client, store


@pytest.mark.parametrize("fail", [_kombu_publish_on_a_closed_channel, _refused])
def test_a_broker_that_went_away_during_the_publish_is_a_redis_service_error_and_fails_the_row(fail):
    client, store = _client(fail)
    with pytest.raises(ServiceError) as raised:
        client.send(JOB)
    error = raised.value
    assert error.service == "redis" and error.exit_code == 3
    assert "redis://127.0.0.1:6379/" in error.message and JOB in error.message
    assert error.fix and "infra.up -s redis" in error.fix
    assert [(job, status, kept["service"]) for job, status, kept in store.finished] == [(JOB, "failed", "redis")]


def test_an_attribute_error_of_our_own_stays_a_bug():
    client, store = _client(_our_bug)
    with pytest.raises(AttributeError):
        client.send(JOB)
    assert store.finished == []


class _RunningJobStore:
    """A job that is running, then cancelled in its row."""

    def get(self, job_id: str):
        return SimpleNamespace(job_id=job_id, status="running")

    def cancel(self, job_id: str):
        return SimpleNamespace(job_id=job_id, status="cancelled")


@pytest.mark.parametrize("fail", [_kombu_publish_on_a_closed_channel, _refused])
def test_a_broker_that_went_away_during_a_cancel_is_a_redis_service_error_saying_the_row_is_cancelled(fail):
    client = JobClient(Settings(), postgres=None, app=_App(fail))  # type: ignore[arg-type]
    client.store = _RunningJobStore()  # type: ignore[assignment]
    with pytest.raises(ServiceError) as raised:
        client.cancel(JOB)
    error = raised.value
    assert error.service == "redis" and JOB in error.message and "cancelled in Postgres" in error.message
    assert error.fix == "it stops at its time limit"


def test_an_attribute_error_of_our_own_during_a_cancel_stays_a_bug():
    client = JobClient(Settings(), postgres=None, app=_App(_our_bug))  # type: ignore[arg-type]
    client.store = _RunningJobStore()  # type: ignore[assignment]
    with pytest.raises(AttributeError):
        client.cancel(JOB)
