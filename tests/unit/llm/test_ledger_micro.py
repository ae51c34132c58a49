"""The shared budget counts in whole micro-dollars, rounded up: a call that cost less than a
micro-dollar still counts as one, so a budget can never be spent by calls that each count 0."""

from __future__ import annotations

import pytest

from devmatrix.llm.ledger import MICRO, _micro

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("usd", "micro"), [
    (0.0, 0),  # a free call counts nothing
    (4e-7, 1),  # below a micro-dollar: one, never 0
    (1e-12, 1),
    (1e-6, 1),  # exactly one
    (1.4e-6, 2),  # never less than the cost
    (0.000043, 43),  # float noise (42.99999…) is not a micro-dollar more
    (0.1 + 0.2, 300_000),  # nor here (300000.00000000006)
    (1.0, MICRO),
])
def test_a_cost_is_counted_in_micro_dollars_rounded_up(usd, micro):
    assert _micro(usd) == micro
