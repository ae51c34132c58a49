"""The result of one check or step, shared by validate, phase1 and the env checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105 - a status, not a password
    FAIL = "FAIL"
    NOT_CHECKED = "NOT CHECKED"  # could not be checked here; the detail says why
    SKIPPED = "SKIPPED"  # nothing to do (a step already done, a --dry plan)


@dataclass
class CheckResult:
    name: str
    status: Status
    detail: str = ""
    critical: bool = True
    seconds: float = 0.0
    data: dict[str, object] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "status": self.status.value}


@contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """Yield a function that returns the seconds elapsed since entering."""
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start
