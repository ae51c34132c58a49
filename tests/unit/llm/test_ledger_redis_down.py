"""The ledger's side that needs no Redis answer: which Redis it talks to, what it says when
that Redis is down, and this process's own spending. (Reserve and settle against a live
Redis are in tests/integration/llm/test_budget_shared.py.)"""

from __future__ import annotations

import pytest
import redis

from devmatrix.config import Settings
from devmatrix.errors import ServiceError
from devmatrix.llm.ledger import FREE, RESERVATION_TTL_S, Ledger, Reservation
from devmatrix.stack.system import free_port

pytestmark = pytest.mark.unit


@pytest.mark.timeout(30)
def test_a_cost_that_cannot_be_recorded_names_the_cost_redis_and_when_the_reservation_lapses(closed_port):
    reservation = Reservation("test:unit:2026-12-07", "abc:5000", 0.005)
    with pytest.raises(ServiceError) as caught:
        Ledger(prefix="test:unit").settle(Settings(redis_port=closed_port), reservation, 0.001234)
    assert caught.value.service == "redis"
    assert f"cannot record an LLM call's cost ($0.001234) at 127.0.0.1:{closed_port}" in caught.value.message
    assert "invoke infra.up -s redis" in caught.value.fix and f"lapses after {RESERVATION_TTL_S} s" in caught.value.fix


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
