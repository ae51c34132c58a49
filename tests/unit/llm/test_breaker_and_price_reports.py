"""What the circuit-breaker report and an unknown model's error tell a user."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from devmatrix.errors import UnknownModel
from devmatrix.llm import breaker as breakers
from devmatrix.llm._constants import BREAKER_FAIL_MAX
from devmatrix.llm.pricing import PRICES, price_for
from devmatrix.stack.system import free_port

pytestmark = pytest.mark.unit


def test_each_breaker_report_names_its_endpoint():
    endpoints = [f"http://127.0.0.1:{free_port()}/unit-a", f"http://127.0.0.1:{free_port()}/unit-b"]
    for endpoint in endpoints:
        assert breakers.status(endpoint)["endpoint"] == endpoint
    reported = {status["endpoint"]: status for status in breakers.all_status()}
    assert set(endpoints) <= set(reported) and reported[endpoints[0]]["state"] == "closed"


def test_during_the_half_open_trial_the_report_still_says_since_when_it_was_open():
    endpoint = f"http://127.0.0.1:{free_port()}/unit-half-open"
    for _ in range(BREAKER_FAIL_MAX):  # failed calls of a worker, counted here
        breakers.record(endpoint, ConnectionRefusedError("refused"))
    opened = breakers.status(endpoint)
    assert (opened["state"], opened["failures"]) == ("open", BREAKER_FAIL_MAX) and opened["opened_at"] is not None
    breaker, _ = breakers.breaker_for(endpoint)
    breaker._state_storage.opened_at -= timedelta(seconds=breaker.reset_timeout + 1)  # fake time: the timeout passed
    with breaker.calling():  # the trial call
        during = breakers.status(endpoint)
    assert (during["state"], during["opened_at"]) == ("half-open", opened["opened_at"])
    closed = breakers.status(endpoint)  # the trial succeeded
    assert (closed["state"], closed["failures"], closed["opened_at"]) == ("closed", 0, None)


def test_an_unknown_models_fix_lists_every_priced_model():
    with pytest.raises(UnknownModel) as caught:
        price_for("claude-imaginary-9", "anthropic")
    listed = re.search(r"pricing\.py \((.*)\)", caught.value.fix).group(1)
    assert listed.split(", ") == sorted(PRICES)
