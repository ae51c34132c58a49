"""A job's error, both ways: what a worker keeps in the job's row, and the error the API and
the CLI raise from it, of the same class (one place, as httpx maps its transport errors).

The API answers a job's failure exactly as it answered the same failure raised in its own
thread before generations moved to the workers: an LLM outage is 503 naming ``llm`` (and is
counted on the API's circuit breaker), a busy service 429 with its Retry-After, RAG not set
up 409, and so on.
"""

from __future__ import annotations

from typing import Any

from devmatrix import errors
from devmatrix.errors import CircuitOpen, DevMatrixError, ServiceBusy, ServiceError

# every class of the tree, by name: a job's error comes back as the class it was raised as
_CLASSES: dict[str, type[DevMatrixError]] = {
    cls.__name__: cls for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, DevMatrixError)
}


def error_of(error: BaseException) -> dict[str, Any]:
    """An error as a job keeps it (JSON in ``jobs.error``)."""
    if isinstance(error, DevMatrixError):
        return {"type": type(error).__name__, "message": error.message, "fix": error.fix,
                "service": getattr(error, "service", None), "http_status": error.http_status,
                "exit_code": error.exit_code, "retry_after_s": getattr(error, "retry_after_s", None)}
    return {"type": type(error).__name__, "message": str(error) or type(error).__name__, "fix": None,
            "service": None, "http_status": 500, "exit_code": 1, "retry_after_s": None}


def failure_of(job_id: str, status: str, error: dict[str, Any] | None) -> DevMatrixError:
    """The error a finished job without a result ended with, as its caller raises it."""
    if error is None:  # cancelled (or failed) before a worker ran it
        failure = DevMatrixError(f"job {job_id} was {status} before it ran",
                                 fix=f"submit it again; GET /api/v1/jobs/{job_id} shows it")
        failure.http_status = 409
        return failure
    service, message, fix = error.get("service"), error["message"], error.get("fix")
    cls = _CLASSES.get(error.get("type") or "")
    if service:
        text = message.removeprefix(f"{service}: ")
        if cls is ServiceBusy or (cls is None and error.get("http_status") == 429):
            failure: DevMatrixError = ServiceBusy(service, text, fix=fix,
                                                  retry_after_s=max(1, int(error.get("retry_after_s") or 1)))
        elif cls is CircuitOpen:
            failure = CircuitOpen(text, fix=fix)
        else:
            failure = ServiceError(service, text, fix=fix)
    else:
        failure = DevMatrixError(message, fix=fix)
    # the class's own status and exit code where it has one, else what the worker recorded
    failure.http_status = int(error.get("http_status") or failure.http_status)
    failure.exit_code = int(error.get("exit_code") or failure.exit_code)
    return failure


def is_llm_outage(error: dict[str, Any] | None) -> bool:
    """A failure of the LLM endpoint itself (what trips a circuit breaker), not of the request.

    A CircuitOpen is a call refused unsent by the worker's own breaker: not a new failure."""
    return bool(error) and error.get("service") == "llm" and error.get("type") != "CircuitOpen" \
        and error.get("http_status") == 503
