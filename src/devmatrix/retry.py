"""The one retry helper (stamina's shape over tenacity): named exceptions only, a deadline, then re-raise.

A retry of bare ``Exception`` would retry a bug for the whole window; so ``on`` must name what a
restart or an outage raises, and anything else leaves at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import tenacity

T = TypeVar("T")


def retry(call: Callable[[], T], *, on: tuple[type[Exception], ...], timeout_s: float, wait_s: float) -> T:
    """``call()``, again every ``wait_s`` while it raises one of ``on``, for at most ``timeout_s``;
    then the last error is raised as it was. Any other error is raised at once."""
    if not on or Exception in on or BaseException in on:
        raise TypeError(f"retry(on={on!r}): name the errors to retry, never bare Exception")
    retrying = tenacity.Retrying(retry=tenacity.retry_if_exception_type(on),
                                 stop=tenacity.stop_after_delay(timeout_s),
                                 wait=tenacity.wait_fixed(wait_s), reraise=True)
    return retrying(call)
