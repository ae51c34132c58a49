"""Subprocesses with a deadline: a tool still running after it is stuck, killed and named."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from devmatrix.errors import ServiceError


def run_bounded(args: Sequence[str], *, timeout_s: float, service: str, fix: str,
                **kwargs: object) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` that kills the tool after ``timeout_s`` and raises ServiceError.

    The tools bounded this way (pg_dump, pg_restore, redis-check-rdb) only outlive their
    deadline when the server they talk to is frozen or the disk has stalled.
    """
    try:
        return subprocess.run(list(args), capture_output=True, text=True, check=False,
                              timeout=timeout_s, **kwargs)  # type: ignore[call-overload]
    except subprocess.TimeoutExpired:
        tool = str(args[0]).rsplit("/", 1)[-1]
        raise ServiceError(service, f"{tool} did not finish within {timeout_s:g} s and was stopped"
                                    " (the server is frozen, or the disk stalled)", fix=fix) from None
