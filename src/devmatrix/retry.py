"""The one retry helper (stamina's shape over tenacity): named exceptions only, a deadline, then re-raise.

A retry of bare ``Exception`` would retry a bug for the whole window; so ``on`` must name what a
restart or an outage raises, and anything else leaves at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import tenacity

T = TypeVar("T")


def _always(_error: BaseException) -> bool:
    return True


def retry(call: Callable[[], T], *, on: tuple[type[Exception], ...], timeout_s: float, wait_s: float,
          when: Callable[[BaseException], bool] = _always, max_wait_s: float | None = None) -> T:
    """``call()``, again while it raises one of ``on`` (and ``when(error)`` holds), for at most
    ``timeout_s``; then the last error is raised as it was. Any other error is raised at once.

    The wait is ``wait_s``; with ``max_wait_s`` it doubles from ``wait_s`` up to that. No wait
    starts that would end past the deadline: the call's own time counts in ``timeout_s``.
    """
    if not on or Exception in on or BaseException in on:
        raise TypeError(f"retry(on={on!r}): name the errors to retry, never bare Exception")
    wait = (tenacity.wait_fixed(wait_s) if max_wait_s is None
            else tenacity.wait_exponential(multiplier=wait_s, min=wait_s, max=max_wait_s))
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda error: isinstance(error, on) and when(error)),
        stop=tenacity.stop_before_delay(timeout_s), wait=wait, reraise=True)
    return retrying(call)


class PollTimedOut(Exception):
    """``poll``'s deadline passed while ``check`` kept answering "not yet" (None). Callers catch it
    where they know what was awaited, and raise their own error with its fix."""


def poll(check: Callable[[], T | None], *, timeout_s: float, wait_s: float) -> T:
    """``check()`` every ``wait_s`` until it returns something other than None (that is returned),
    for at most ``timeout_s``; then PollTimedOut. An error ``check`` raises leaves at once: a poll
    waits for a state, it does not retry failures (that is ``retry``)."""
    def timed_out(state: tenacity.RetryCallState) -> T:
        raise PollTimedOut(f"still not ready after {state.seconds_since_start:.1f} s ({state.attempt_number} checks)")

    retrying = tenacity.Retrying(retry=tenacity.retry_if_result(lambda result: result is None),
                                 stop=tenacity.stop_after_delay(timeout_s), wait=tenacity.wait_fixed(wait_s),
                                 retry_error_callback=timed_out)
    return retrying(check)
