"""The one retry helper: named errors only, bounded by its deadline, the last error re-raised."""

from __future__ import annotations

import pytest
import tenacity

from devmatrix.errors import ServiceError
from devmatrix.retry import PollTimedOut, poll, retry

pytestmark = pytest.mark.unit


def _failing(times: int, error: Exception):
    calls = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return call, calls


def test_a_named_error_is_retried_until_the_call_succeeds():
    call, calls = _failing(2, ServiceError("redis", "restarting"))
    assert retry(call, on=(ServiceError,), timeout_s=5, wait_s=0) == "done"
    assert len(calls) == 3


def test_a_bug_is_raised_at_once_never_retried():
    call, calls = _failing(2, KeyError("bug"))
    with pytest.raises(KeyError):
        retry(call, on=(ServiceError,), timeout_s=5, wait_s=0)
    assert len(calls) == 1


def test_the_last_error_is_raised_as_it_was_when_the_deadline_passes():
    error = ServiceError("redis", "down")
    call, calls = _failing(10**6, error)
    with pytest.raises(ServiceError) as raised:
        retry(call, on=(ServiceError,), timeout_s=0.05, wait_s=0.01)
    assert raised.value is error and len(calls) > 1


@pytest.mark.parametrize("on", [(), (Exception,), (ValueError, Exception)])
def test_bare_exception_cannot_be_retried(on):
    with pytest.raises(TypeError, match="never bare Exception"):
        retry(lambda: None, on=on, timeout_s=1, wait_s=0)


def test_an_error_the_predicate_refuses_is_raised_at_once():
    call, calls = _failing(2, ServiceError("postgres", "password authentication failed"))
    with pytest.raises(ServiceError):
        retry(call, on=(ServiceError,), timeout_s=5, wait_s=0, when=lambda error: "restarting" in str(error))
    assert len(calls) == 1


def test_the_waits_double_up_to_their_cap_and_none_ends_past_the_deadline(monkeypatch):
    # the waits asked for, not the clock: a busy machine oversleeps, the policy does not change
    asked: list[float] = []
    real_sleep = tenacity.nap.time.sleep
    monkeypatch.setattr(tenacity.nap.time, "sleep", lambda seconds: (asked.append(seconds), real_sleep(seconds)))

    def call() -> None:
        raise ServiceError("postgres", "restarting")

    with pytest.raises(ServiceError):
        retry(call, on=(ServiceError,), timeout_s=0.65, wait_s=0.05, max_wait_s=0.2)
    assert asked[:3] == pytest.approx([0.05, 0.1, 0.2])
    assert max(asked) == pytest.approx(0.2)
    assert sum(asked) < 0.65  # a wait that would end past the deadline is not started


def test_poll_returns_the_first_answer_that_is_not_none():
    answers = iter([None, None, {"loaded": True}])
    assert poll(lambda: next(answers), timeout_s=5, wait_s=0) == {"loaded": True}


def test_poll_gives_up_at_its_deadline_with_poll_timed_out():
    checks = []
    with pytest.raises(PollTimedOut, match="still not ready after"):
        poll(lambda: checks.append(1), timeout_s=0.05, wait_s=0.01)
    assert len(checks) > 1


def test_an_error_inside_poll_leaves_at_once():
    checks = []

    def check():
        checks.append(1)
        raise ServiceError("redis", "down")

    with pytest.raises(ServiceError):
        poll(check, timeout_s=5, wait_s=0)
    assert len(checks) == 1
