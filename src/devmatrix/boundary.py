"""The one error boundary of every entry point: each `main()` (``run_main``) and every Invoke task
(devmatrix.tasks._common) turn what ended them into one ``FAIL: what — fix: how`` line and an
exit code, the same way, never a traceback (a bug's, with LOG_LEVEL=DEBUG, on stderr before it).

The exit codes are README's table, and each error class carries its own (devmatrix.errors):
0 done, 1 the work failed (a generation, a task, a check), 2 bad settings or usage, 3 a service
is down or frozen, 4 a healthy service is busy, 5 a setup step is missing; 130 Ctrl-C. Anything
that is not one of our errors is a bug: exit 1, named as one.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from devmatrix.errors import DevMatrixError

INTERRUPTED = 130  # the shell's code for a process ended by SIGINT (Ctrl-C)
BUG_FIX = "this is a bug: report it with the command you ran; LOG_LEVEL=DEBUG shows more"


@dataclass(frozen=True)
class Failure:
    """What ended a command, as a person and a script read it."""

    message: str
    exit_code: int
    fix: str | None = None
    details: dict[str, object] = field(default_factory=dict)  # e.g. the service down, the workflow to resume

    @classmethod
    def of(cls, error: BaseException) -> Failure:
        if isinstance(error, DevMatrixError):
            details = {k: getattr(error, k, None) for k in ("service", "workflow_id")}
            return cls(error.message, error.exit_code, error.fix,
                       {k: v for k, v in details.items() if v is not None})
        if isinstance(error, KeyboardInterrupt):
            return cls("interrupted (Ctrl-C)", INTERRUPTED)
        return cls(f"internal error ({type(error).__name__}: {error})", 1, BUG_FIX)

    @classmethod
    def reported(cls, error: BaseException) -> Failure:
        """``of(error)``; for a bug, its traceback on stderr first when LOG_LEVEL=DEBUG is in the
        environment (what BUG_FIX promises: the one case a person needs the frames)."""
        failure = cls.of(error)
        if failure.fix == BUG_FIX and os.environ.get("LOG_LEVEL", "").upper() == "DEBUG":
            traceback.print_exception(error, file=sys.stderr)
        return failure

    @property
    def line(self) -> str:
        return f"FAIL: {self.message} — fix: {self.fix}" if self.fix else f"FAIL: {self.message}"

    def to_json(self) -> dict[str, object]:
        """The error for scripts: ``error`` and ``error_fix`` as in a GenerationResult; ``fix`` is the
        older name of ``error_fix``, kept for scripts that read it."""
        body: dict[str, object] = {"success": False, "error": self.message, "error_fix": self.fix,
                                   "exit_code": self.exit_code}
        return {**body, **({"fix": self.fix} if self.fix else {}), **self.details}


def run_main(body: Callable[[], int], *, json_errors: bool = False) -> int:
    """``body()``'s exit code, or the failure that ended it: its FAIL line on stderr (and, with
    ``json_errors``, its JSON on stdout for scripts) and its exit code."""
    try:
        return body()
    except (KeyboardInterrupt, Exception) as error:  # noqa: BLE001 - the boundary: no traceback unless asked
        failure = Failure.reported(error)
        print(failure.line, file=sys.stderr, flush=True)
        if json_errors:
            print(json.dumps(failure.to_json(), indent=2, default=str), flush=True)
        return failure.exit_code
