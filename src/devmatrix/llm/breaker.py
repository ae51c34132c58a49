"""Circuit breakers, one per LLM endpoint, shared by every client of the process.

After BREAKER_FAIL_MAX consecutive failed calls the breaker opens and calls fail
fast (CircuitOpen) without touching the network, until a trial call is allowed
after BREAKER_RESET_TIMEOUT_S. State, failure count and opened-at time are
readable (the API's /health/circuit-breaker) and exported as a metric.
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime

import pybreaker

from devmatrix.llm._constants import BREAKER_FAIL_MAX, BREAKER_RESET_TIMEOUT_S
from devmatrix.monitoring.metrics import LLM_CIRCUIT_BREAKER_STATE

STATE_VALUE = {"closed": 0, "half-open": 1, "open": 2}
# Errors that say the request itself is wrong: retrying elsewhere would not help,
# and they say nothing about the endpoint's health, so they do not trip the breaker.
# The SDK's are named, not imported: it takes 1-4 s to import, and the API reads and feeds its
# breakers without ever making an LLM call (its workers do); a process that raised one has it loaded.
NOT_ENDPOINT_SDK_ERRORS = ("BadRequestError", "AuthenticationError", "PermissionDeniedError",
                           "NotFoundError", "UnprocessableEntityError")


def is_not_an_endpoint_failure(error: BaseException) -> bool:
    """The request was wrong (one of NOT_ENDPOINT_SDK_ERRORS), or a consumer stopped reading a
    stream (GeneratorExit: the endpoint was answering)."""
    if isinstance(error, GeneratorExit):
        return True
    sdk = sys.modules.get("anthropic")
    return sdk is not None and isinstance(error, tuple(getattr(sdk, name) for name in NOT_ENDPOINT_SDK_ERRORS))


class _Listener(pybreaker.CircuitBreakerListener):
    def __init__(self) -> None:
        self.opened_at: datetime | None = None

    def state_change(self, cb, old_state, new_state) -> None:
        if new_state.name == "open":
            self.opened_at = datetime.now(UTC)
        elif new_state.name == "closed":
            self.opened_at = None
        LLM_CIRCUIT_BREAKER_STATE.set(STATE_VALUE[new_state.name])


_BREAKERS: dict[str, tuple[pybreaker.CircuitBreaker, _Listener]] = {}
_LOCK = threading.Lock()


def breaker_for(endpoint: str) -> tuple[pybreaker.CircuitBreaker, _Listener]:
    with _LOCK:
        if endpoint not in _BREAKERS:
            listener = _Listener()
            breaker = pybreaker.CircuitBreaker(
                fail_max=BREAKER_FAIL_MAX, reset_timeout=BREAKER_RESET_TIMEOUT_S,
                exclude=[is_not_an_endpoint_failure], listeners=[listener], name=endpoint,
                # the call that trips it (or a failed half-open trial) was sent: it raises its
                # own error, which says why; CircuitOpen is for the calls refused unsent
                throw_new_error_on_trip=False,
            )
            _BREAKERS[endpoint] = (breaker, listener)
        return _BREAKERS[endpoint]


def status(endpoint: str) -> dict[str, object]:
    breaker, listener = breaker_for(endpoint)
    return {
        "endpoint": endpoint,
        "state": breaker.current_state,
        "failures": breaker.fail_counter,
        "opened_at": listener.opened_at.isoformat() if listener.opened_at else None,
        "fail_max": breaker.fail_max,
        "reset_timeout_s": breaker.reset_timeout,
    }


def record(endpoint: str, failure: BaseException | None) -> None:
    """Count the outcome of a call made in another process (a worker's, read from its job):
    a failure as a failed call, None as a successful one. An open breaker counts nothing until
    its reset timeout; after it, this outcome is its trial."""
    breaker, _ = breaker_for(endpoint)

    def outcome() -> None:
        if failure is not None:
            raise failure

    try:
        breaker.call(outcome)
    except pybreaker.CircuitBreakerError:
        pass  # open: fenced off, nothing to count
    except BaseException as raised:
        if raised is not failure:
            raise


def reset(endpoint: str) -> dict[str, object]:
    breaker, _ = breaker_for(endpoint)
    breaker.close()
    return status(endpoint)


def all_status() -> list[dict[str, object]]:
    with _LOCK:
        endpoints = list(_BREAKERS)
    return [status(e) for e in endpoints]
