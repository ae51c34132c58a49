"""The ledger's side that needs no Redis answer: which Redis it talks to, what it says when
that Redis is down, and this process's own spending. (Reserve and settle against a live
Redis are in tests/integration/llm/test_budget_shared.py.)"""

from __future__ import annotations

import pytest
import redis
import structlog

from devmatrix.config import Settings
from devmatrix.llm.ledger import FREE, RESERVATION_TTL_S, Ledger, Reservation
from devmatrix.stack.system import free_port

pytestmark = pytest.mark.unit


@pytest.mark.timeout(30)
def test_a_cost_that_cannot_be_recorded_is_kept_and_named_with_redis_and_when_the_reservation_lapses(closed_port):
    """The reply was paid for: a Redis down at settle time must not raise (the caller would lose
    the reply); the cost is kept to be sent again, and the warning says what and where."""
    reservation = Reservation("test:unit:2026-12-07", "abc:5000", 0.005)
    ledger = Ledger(prefix="test:unit")
    with structlog.testing.capture_logs() as logs:
        ledger.settle(Settings(redis_port=closed_port), reservation, 0.001234)
    [warning] = [entry for entry in logs if entry["event"] == "llm_cost_unrecorded"]
    assert warning["log_level"] == "warning" and warning["redis"] == f"127.0.0.1:{closed_port}"
    assert f"cannot record an LLM call's cost ($0.001234) at 127.0.0.1:{closed_port}" in warning["error"]
    assert "invoke infra.up -s redis" in warning["fix"] and f"lapses after {RESERVATION_TTL_S} s" in warning["fix"]
    assert [(c.address, c.cost_usd) for c in ledger.unrecorded()] == [(("127.0.0.1", closed_port), 0.001234)]
    assert ledger.snapshot() == {"spent_usd": 0.001234}  # this process's own spending counts it


def test_the_shared_totals_are_read_from_the_redis_of_the_settings_given():
    """One ledger, two Redis addresses (a test's and the stack's): each read goes to its own."""
    ledger = Ledger(prefix="test:unit")
    for port in (free_port(), free_port()):
        with pytest.raises(redis.ConnectionError, match=rf"127\.0\.0\.1:{port}\b"):
            ledger.shared(Settings(redis_port=port), probe=True)  # a scrape's read: one attempt


def test_this_process_spending_is_its_calls_costs_to_the_micro_dollar():
    ledger = Ledger(prefix="test:unit")
    settings = Settings()
    for cost in (0.1, 0.2, 0.0000004, 1.2345674):  # FREE: settled, nothing to send to Redis
        ledger.settle(settings, FREE, cost)
    assert ledger.snapshot() == {"spent_usd": 1.534568}
